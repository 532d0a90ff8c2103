"""Seed 002's cost controls over real HTTP on SQLite and PostgreSQL: transcription minutes and
LLM tokens are metered per month, a spent cap refuses a run (402 naming it), a cap reached
mid-run fails only the clips past it (with the reason) and a rerun after raising it picks up
just those; the LLM judge scores through the chat-completions fake."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Stack, expect_problem
from tests.e2e.pipelines import clip_range, make_pipeline, run


def _quota(stack: Stack, metric: str, hard: int | None) -> None:
    body: dict[str, Any] = {"metric": metric}
    if hard is not None:
        body["hard_limit"] = hard
    answer = stack.http.put("/v1/usage/quotas", json=body)
    assert answer.status_code == 200, answer.text


def _items(stack: Stack, pipeline_id: str) -> list[dict[str, Any]]:
    answer = stack.http.get(
        "/v1/content-items",
        params={"pipeline_id": pipeline_id, "sort_by": "created_at", "sort_order": "asc",
                "limit": 100},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_caps_refuse_runs_and_fail_only_the_clips_past_them(stack: Stack) -> None:
    """With no transcription minutes left the run is refused; with one minute the clips
    that fit are transcribed in order and the rest fail `quota_exceeded`; lifted, a rerun
    finishes exactly those, judged by the LLM, and the usage shows both meters."""
    pipeline = make_pipeline(stack, judge="llm")
    assert pipeline["judge"] == "llm"
    window = clip_range(hours=36)
    _quota(stack, "transcription_minutes", 0)
    refused = expect_problem(
        stack.http.post(f"/v1/pipelines/{pipeline['id']}/runs", json=window),
        402,
        "quota_exceeded",
    )
    assert refused["quota"] == "transcription_minutes"

    _quota(stack, "transcription_minutes", 1)
    first = run(stack, pipeline, window)["result"]
    items = _items(stack, pipeline["id"])
    assert len(items) == first["clips_found"] >= 3
    used, expected = 0, []
    for item in items:  # the run takes clips oldest first, each checked against what is left
        ms = round(item["clip_duration"] * 1000)
        fits = used + ms <= 60_000
        used += ms if fits else 0
        expected.append("ready_for_content" if fits else "failed")
    assert [i["processing_status"] for i in items] == expected
    failed = [i for i in items if i["processing_status"] == "failed"]
    assert failed, "the sample clips of a day and a half last more than a minute"
    for item in failed:
        assert item["error"]["code"] == "quota_exceeded"
        assert "transcription_minutes" in item["error"]["message"]
    assert {e["clip_id"] for e in first["failed"]} == {i["clip_id"] for i in failed}

    _quota(stack, "transcription_minutes", None)
    second = run(stack, pipeline, window)["result"]
    assert second["processed"] == len(failed) and second["failed"] == []
    items = _items(stack, pipeline["id"])
    assert {i["processing_status"] for i in items} == {"ready_for_content"}
    for item in items:
        judgement = item["judgement"]
        assert judgement["judge"] == "llm"
        assert 0 <= item["content_score"] <= 100 and item["content_category"]
        for part in ("coherence", "correctness", "dev_signal", "confidence"):
            assert 0 <= judgement[part] <= 1
    usage = stack.http.get("/v1/usage").json()["tenant"]
    seconds = sum(i["clip_duration"] for i in items)
    assert abs(usage["transcription_minutes"] - seconds / 60) < 0.02
    assert usage["llm_tokens"] > 0

    _quota(stack, "llm_tokens", usage["llm_tokens"])
    spent = expect_problem(
        stack.http.post(f"/v1/pipelines/{pipeline['id']}/runs", json=window),
        402,
        "quota_exceeded",
    )
    assert spent["quota"] == "llm_tokens" and "PUT /v1/usage/quotas" in spent["detail"]


def test_an_llm_judge_needs_a_known_judge_name(stack: Stack) -> None:
    """The judge is heuristic or llm; anything else is refused naming the field, and a
    PATCH switches it."""
    problem = expect_problem(
        stack.http.post(
            "/v1/pipelines",
            json={"name": "x", "twitch_login": "sandbox_streamer",
                  "repositories": ["a/b"], "judge": "oracle"},
        ),
        422,
    )  # fmt: skip
    assert "judge" in str(problem)
    pipeline = make_pipeline(stack)
    assert pipeline["judge"] == "heuristic"
    patched = stack.http.patch(f"/v1/pipelines/{pipeline['id']}", json={"judge": "llm"})
    assert patched.status_code == 200 and patched.json()["judge"] == "llm"
