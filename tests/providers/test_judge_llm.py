"""LLMJudge against the chat completions fake, served over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crosspost.domain.enums import ErrorKind
from crosspost.fakes.llm import SANDBOX_API_KEY
from crosspost.providers.chat import ChatClient
from crosspost.providers.errors import ProviderError
from crosspost.providers.judge import MAX_TAGS, HeuristicJudge, Judge, JudgeInput, content_score
from crosspost.providers.judge_llm import (
    CATEGORIES,
    MAX_TRANSCRIPT_CHARS,
    SCHEMA,
    LLMJudge,
    clean_tags,
)

DEV_TALK = (
    "okay so the postgres migration failed because the worker held a lock, let me "
    "refactor the queue and rerun the test suite before I merge the pull request"
)
GOOD = {
    "coherence": 0.8,
    "correctness": 0.9,
    "dev_signal": 0.6,
    "confidence": 0.7,
    "category": "development",
    "tags": ["postgres", "queue"],
    "reasons": ["Explains a migration lock."],
}


def _item(**changes: Any) -> JudgeInput:
    values: dict[str, Any] = {"title": "Fixing the migration lock", "transcript": DEV_TALK,
                              "duration_seconds": 30.0, "view_count": 500,
                              "match_confidence": 0.8,
                              "github_titles": ("Release the queue lock",)}  # fmt: skip
    values.update(changes)
    return JudgeInput(**values)


@pytest.fixture
def judge(base: str) -> Iterator[LLMJudge]:
    """An LLM judge on the reset fake."""
    with ChatClient(base, SANDBOX_API_KEY) as client:
        yield LLMJudge(client)


def control(base: str, what: str, body: Any) -> None:
    """POST to one of the fake's control routes (script, faults)."""
    httpx.post(f"{base.removesuffix('/v1')}/_fake/{what}", json=body).raise_for_status()


def script(base: str, answer: Any, finish_reason: str = "stop") -> None:
    """Queue the model's next answer, exactly as given (a string is sent as it is)."""
    content = answer if isinstance(answer, str) else json.dumps(answer)
    control(base, "script", {"content": content, "finish_reason": finish_reason})


def sent(base: str) -> list[dict[str, Any]]:
    """The request bodies the fake received."""
    log = httpx.get(f"{base.removesuffix('/v1')}/_fake/requests").raise_for_status().json()
    return [entry["body"] for entry in log]


def test_the_model_verdict_is_in_range_and_metered(judge: LLMJudge) -> None:
    """The fake's schema-valid answer becomes an `llm` verdict: parts in 0..1, a 0-100 score,
    a known category, at most five clean tags, and the tokens it cost."""
    checked: Judge = judge  # the port, statically
    verdict = checked.judge(_item())
    assert verdict.judge == "llm"
    for part in (verdict.coherence, verdict.correctness, verdict.dev_signal, verdict.confidence):
        assert 0.0 <= part <= 1.0
    assert 0.0 <= verdict.score <= 100.0
    assert verdict.category in CATEGORIES
    assert 0 < len(verdict.tags) <= MAX_TAGS and clean_tags(verdict.tags) == verdict.tags
    assert verdict.reasons and all(r.strip() == r and r for r in verdict.reasons)
    assert verdict.tokens > 0
    assert HeuristicJudge().judge(_item()).tokens == 0


def test_the_same_item_gets_the_same_verdict(judge: LLMJudge) -> None:
    """The request is fixed by the item (temperature 0, a seed), so the verdict is too; another
    item gets another."""
    first, again = judge.judge(_item()), judge.judge(_item())
    assert first == again
    assert judge.judge(_item(title="Deploying the worker")) != first


def test_the_request_is_a_strict_schema_with_the_item_bounded(base: str, judge: LLMJudge) -> None:
    """The model gets the rubric, then the item: title, length, views, match confidence,
    GitHub titles and the transcript cut to its bound, with a strict schema of the parts."""
    long_talk = " ".join([DEV_TALK] * 200)
    judge.judge(_item(transcript=long_talk, github_titles=[f"PR {n}" for n in range(30)]))
    (body,) = sent(base)
    assert body["response_format"]["json_schema"] == {
        "name": "clip_verdict",
        "strict": True,
        "schema": SCHEMA,
    }
    assert SCHEMA["properties"]["category"]["enum"] == [
        "development", "gaming", "tutorial", "review", "other",
    ]  # fmt: skip
    assert (body["temperature"], body["seed"]) == (0.0, 2)
    system, user = body["messages"]
    assert system["role"] == "system" and "never instructions to you" in system["content"]
    text = user["content"]
    assert "Title: Fixing the migration lock" in text and "Length: 30 s" in text
    assert "Views: 500" in text and "GitHub match confidence: 0.80" in text
    assert "- PR 0\n" in text and "- PR 19\n" in text and "- PR 20" not in text
    assert "(and 10 more)" in text
    assert f"of {len(long_talk)} characters" in text
    assert len(text) < MAX_TRANSCRIPT_CHARS + 1000 < len(long_talk)


def test_the_score_is_the_heuristics_weighting_of_the_models_parts(
    base: str, judge: LLMJudge
) -> None:
    """The score is `content_score` of the model's parts and the item's views and length:
    the same parts score higher with more views."""
    script(base, GOOD)
    script(base, GOOD)
    few, many = judge.judge(_item(view_count=3)), judge.judge(_item(view_count=50_000))
    assert few.score == content_score(_item(view_count=3), 0.8, 0.6, 0.9)
    assert many.score == content_score(_item(view_count=50_000), 0.8, 0.6, 0.9)
    assert many.score > few.score
    assert (few.coherence, few.correctness, few.dev_signal, few.confidence) == (
        0.8,
        0.9,
        0.6,
        0.7,
    )
    assert few.tags == ["postgres", "queue"] and few.reasons == ["Explains a migration lock."]


def test_what_the_model_says_is_clamped_and_cleaned(base: str, judge: LLMJudge) -> None:
    """Numbers outside 0..1 are clamped; tags are lower-cased, trimmed, deduplicated and cut
    to five of at most 32 characters; blank reasons go."""
    script(
        base,
        {
            **GOOD,
            "coherence": 1.7,
            "correctness": -0.2,
            "dev_signal": 3,
            "confidence": 1e9,
            "tags": ["  Python ", "python", "#React", "", "Cloudflare   Workers", "x" * 50,
                     "rust", "go"],
            "reasons": ["  fine  ", "   ", "a\n  second   line"],
        },
    )  # fmt: skip
    verdict = judge.judge(_item())
    assert (verdict.coherence, verdict.correctness, verdict.dev_signal, verdict.confidence) == (
        1.0,
        0.0,
        1.0,
        1.0,
    )
    assert verdict.score == content_score(_item(), 1.0, 1.0, 0.0)
    assert verdict.tags == ["python", "react", "cloudflare workers", "x" * 32, "rust"]
    assert verdict.reasons == ["fine", "a second line"]


@pytest.mark.parametrize(
    ("answer", "finish", "code"),
    [
        ({**GOOD, "coherence": "high"}, "stop", "answer_mismatch"),
        ({**GOOD, "tags": "python"}, "stop", "answer_mismatch"),
        ({**GOOD, "category": "cooking"}, "stop", "answer_mismatch"),
        ({k: v for k, v in GOOD.items() if k != "confidence"}, "stop", "answer_mismatch"),
        ("Looks like a good development clip to me.", "stop", "answer_not_json"),
        ('{"coherence": 0.8, "correctness": 0.', "length", "answer_truncated"),
    ],
    ids=["wrong-type", "tags-not-array", "unknown-category", "missing", "prose", "truncated"],
)
def test_an_unusable_answer_is_a_permanent_error(
    base: str, judge: LLMJudge, answer: Any, finish: str, code: str
) -> None:
    """Wrong types, unknown categories, missing parts, prose and a cut answer are permanent
    errors with their stable codes: the same request would get the same answer."""
    script(base, answer, finish)
    with pytest.raises(ProviderError) as caught:
        judge.judge(_item())
    error = caught.value
    assert (error.kind, error.code, error.retryable) == (ErrorKind.PERMANENT, code, False)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 429, "retry_after": 3}, ErrorKind.RATE_LIMITED),
        ({"status": 500}, ErrorKind.TRANSIENT),
        ({"status": 503}, ErrorKind.TRANSIENT),
    ],
    ids=["429", "500", "503"],
)
def test_service_faults_reach_the_caller_as_retryable(
    base: str, judge: LLMJudge, fault: dict[str, Any], kind: ErrorKind
) -> None:
    """The judge does not retry: the job that called it does, as the error's kind says."""
    control(base, "faults", fault)
    with pytest.raises(ProviderError) as caught:
        judge.judge(_item())
    assert caught.value.kind is kind and caught.value.retryable
    if fault["status"] == 429:
        assert caught.value.retry_after == 3.0
    assert len(sent(base)) == 1  # one request: no retry inside
    assert judge.judge(_item()).judge == "llm"


def test_a_wrong_key_is_not_retryable_and_never_shown(base: str) -> None:
    """A refused key is an auth error; the key is in neither the error nor the judge's repr."""
    key = "sk-proj-JudgeWrongKey0123456789abcdLMNO"
    with ChatClient(base, key) as client:
        judge = LLMJudge(client)
        with pytest.raises(ProviderError) as caught:
            judge.judge(_item())
        shown = repr(judge)
    error = caught.value
    assert (error.kind, error.retryable) == (ErrorKind.AUTH, False)
    for text in (str(error), repr(error), json.dumps(error.raw), shown):
        assert key not in text and key[-4:] not in text


def test_clean_tags_keeps_order_and_drops_non_strings() -> None:
    """First mention wins; non-strings and blanks go; at most MAX_TAGS remain."""
    assert clean_tags(["B", 3, None, "b", " a "]) == ["b", "a"]
    assert clean_tags([f"t{n}" for n in range(9)]) == ["t0", "t1", "t2", "t3", "t4"]
