"""The chat completions fake's own strictness, answers and control routes, spoken to with plain
httpx over a real port."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs  # schemathesis's validator: a test dependency already
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.llm import (
    API_PATH,
    SANDBOX_API_KEY,
    ChatFakeConfig,
    OpenAIChatFake,
    create_llm_app,
)
from crosspost.fakes.transcription import OpenAITranscriptionFake

AUTH = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
HELLO = [{"role": "user", "content": "Score this clip of a fox jumping over a lazy dog"}]
# One schema touching each keyword the fake fills in, strict as the client libraries send it.
JUDGEMENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 10},
        "rank": {"type": "integer", "exclusiveMinimum": 0, "maximum": 3},
        "step": {"type": "integer", "minimum": 5, "maximum": 50, "multipleOf": 5},
        "verdict": {"enum": ["publish", "hold", "drop"]},
        "title": {"type": "string", "minLength": 30, "maxLength": 40},
        "short": {"type": "string", "maxLength": 4},
        "when": {"type": "string", "format": "date-time"},
        "contact": {"type": "string", "format": "email"},
        "id": {"type": "string", "format": "uuid"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
        "safe": {"type": "boolean"},
        "kind": {"const": "clip"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "best": {"$ref": "#/$defs/Moment"},
    },
    "required": [
        "score", "rank", "step", "verdict", "title", "short", "when", "contact", "id", "tags",
        "safe", "kind", "note", "best",
    ],
    "additionalProperties": False,
    "$defs": {
        "Moment": {
            "type": "object",
            "properties": {"at": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}},
            "required": ["at"],
            "additionalProperties": False,
        }
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """A fresh fake of this module's own."""
    with serve_in_thread(create_llm_app()) as running:
        yield running


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """A client on the reset fake."""
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        client.post("/_fake/reset").raise_for_status()
        yield client


def chat(http: httpx.Client, **fields: Any) -> httpx.Response:
    """One completion request: gpt-4o-mini on HELLO unless `fields` say otherwise."""
    return http.post(
        API_PATH, headers=AUTH, json={"model": "gpt-4o-mini", "messages": HELLO, **fields}
    )


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The OpenAI error envelope's inner object (all four fields present)."""
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def content_of(response: httpx.Response) -> str:
    """The first choice's content of a 200."""
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


def test_missing_key_wrong_scheme_and_unknown_key_are_401(http: httpx.Client) -> None:
    """No key or Basic auth say how to send one; an unknown key is invalid_api_key, masked."""
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    for headers in ({}, {"Authorization": f"Basic {SANDBOX_API_KEY}"}):
        response = http.post(API_PATH, headers=headers, json=body)
        assert response.status_code == 401
        assert "Bearer auth" in error_of(response)["message"]
    wrong = http.post(API_PATH, headers={"Authorization": "Bearer sk-wrong-key-98765"}, json=body)
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_api_key"
    assert "wrong-key" not in wrong.text and "8765" in error_of(wrong)["message"]
    assert [entry["authorized"] for entry in http.get("/_fake/requests").json()] == [False] * 3


# (request fields over the default body, status, param, code, a piece of the message)
REFUSALS: list[tuple[dict[str, Any], int, str | None, str | None, str]] = [
    ({"model": None}, 400, None, None, "you must provide a model parameter"),
    ({"model": 4}, 400, "model", "invalid_type", "expected a string, but got an integer"),
    ({"messages": None}, 400, "messages", "missing_required_parameter", "'messages'."),
    ({"speed": 2}, 400, None, None, "Unrecognized request argument supplied: speed"),
    ({"tools": []}, 400, "tools", "unsupported_parameter", "does not implement 'tools'"),
    ({"model": "gpt-5-turbo"}, 404, None, "model_not_found",
     "The model `gpt-5-turbo` does not exist or you do not have access to it."),
    ({"messages": []}, 400, "messages", "empty_array", "Expected an array with minimum length 1"),
    ({"messages": "hi"}, 400, "messages", "invalid_type", "expected an array of objects"),
    ({"messages": ["hi"]}, 400, "messages[0]", "invalid_type", "expected an object"),
    ({"messages": [{"content": "hi"}]}, 400, "messages[0].role", "missing_required_parameter",
     "Missing required parameter: 'messages[0].role'."),
    ({"messages": [{"role": "bot", "content": "hi"}]}, 400, "messages[0].role", "invalid_value",
     "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', "
     "'tool', and 'developer'."),
    ({"messages": [{"role": "user", "content": 7}]}, 400, "messages[0].content", "invalid_type",
     "expected one of a string or array of objects, but got an integer instead"),
    ({"messages": [{"role": "user"}]}, 400, "messages[0].content", "missing_required_parameter",
     "'messages[0].content'"),
    ({"messages": [{"role": "user", "content": "hi", "mood": "x"}]}, 400, "messages[0].mood",
     "unknown_parameter", "Unknown parameter: 'messages[0].mood'."),
    ({"messages": [{"role": "user", "content": [{"type": "video", "video": "x"}]}]}, 400,
     "messages[0].content[0].type", "invalid_value", "Invalid value: 'video'."),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400,
     "messages[0].content[0].text", "missing_required_parameter", "'messages[0].content[0].text'"),
    ({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}]}, 400,
     "messages[0].content[0].type", "invalid_value", "Supported values are: 'text'."),
    ({"messages": [*HELLO, {"role": "tool", "tool_call_id": "call_1", "content": "42"}]}, 400,
     "messages.[1].role", None, "must be a response to a preceeding message with 'tool_calls'"),
    ({"temperature": 3}, 400, "temperature", "decimal_above_max_value",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
     "instead."),
    ({"temperature": "hot"}, 400, "temperature", "invalid_type", "expected a decimal"),
    ({"top_p": -0.5}, 400, "top_p", "decimal_below_min_value", "Expected a value >= 0"),
    ({"max_tokens": 0}, 400, "max_tokens", "integer_below_min_value",
     "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 "
     "instead."),
    ({"max_tokens": 100_000}, 400, "max_tokens", None,
     "max_tokens is too large: 100000. This model supports at most 16384 completion tokens, "
     "whereas you provided 100000."),
    ({"max_completion_tokens": "5"}, 400, "max_completion_tokens", "invalid_type",
     "expected an integer, but got a string"),
    ({"n": 0}, 400, "n", "integer_below_min_value", "Expected a value >= 1"),
    ({"n": 2}, 400, "n", "unsupported_parameter", "more than one choice"),
    ({"seed": 1.5}, 400, "seed", "invalid_type", "but got a decimal number instead"),
    ({"stream": True}, 400, "stream", "unsupported_parameter", "does not implement streaming"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "stop", "array_above_max_length",
     "Expected an array with maximum length 4"),
    ({"metadata": {"clip": 7}}, 400, "metadata.clip", "invalid_type", "expected a string"),
    ({"response_format": "json"}, 400, "response_format", "invalid_type", "expected an object"),
    ({"response_format": {}}, 400, "response_format.type", "missing_required_parameter",
     "'response_format.type'"),
    ({"response_format": {"type": "xml"}}, 400, "response_format.type", "invalid_value",
     "Supported values are: 'json_object', 'json_schema', and 'text'."),
    ({"response_format": {"type": "json_schema"}}, 400, "response_format.json_schema",
     "missing_required_parameter", "'response_format.json_schema'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}, 400,
     "response_format.json_schema.name", "missing_required_parameter", "json_schema.name"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}}, 400,
     "response_format.json_schema.name", "invalid_value", "string does not match pattern"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "list", "schema": {"type": "array", "items": {"type": "string"}}}}}, 400,
     "response_format", None,
     "Invalid schema for response_format 'list': schema must be a JSON Schema of "
     "'type: \"object\"', got 'type: \"array\"'."),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "open", "strict": True, "schema": {"type": "object", "properties": {}}}}}, 400,
     "response_format", None,
     "Invalid schema for response_format 'open': In context=(), 'additionalProperties' is "
     "required to be supplied and to be false."),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "nested", "strict": True, "schema": {
            "type": "object", "required": ["inner"], "additionalProperties": False,
            "properties": {"inner": {
                "type": "object", "required": ["a"], "additionalProperties": False,
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}}}}}, 400,
     "response_format", None,
     "In context=('properties', 'inner'), 'required' is required to be supplied and to be an "
     "array including every key in properties. Missing 'b'."),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "status", "param", "code", "said"), REFUSALS)
def test_each_field_is_checked_with_its_param(
    http: httpx.Client,
    fields: dict[str, Any],
    status: int,
    param: str | None,
    code: str | None,
    said: str,
) -> None:
    """Each fault answers in OpenAI's invalid_request_error shape naming its param and code."""
    body = {"model": "gpt-4o-mini", "messages": HELLO, **fields}
    response = http.post(
        API_PATH, headers=AUTH, json={k: v for k, v in body.items() if v is not None}
    )
    assert response.status_code == status, response.text
    error = error_of(response)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert said in error["message"]


def test_a_body_that_is_not_json_is_refused(http: httpx.Client) -> None:
    """Broken JSON, and NaN (which Python would parse), get OpenAI's could-not-parse answer."""
    for raw in (b'{"model": "gpt-4o-mini", ', b'{"model": "gpt-4o-mini", "temperature": NaN}'):
        response = http.post(
            API_PATH, headers={**AUTH, "content-type": "application/json"}, content=raw
        )
        assert response.status_code == 400
        assert error_of(response)["message"].startswith("We could not parse the JSON body")


def test_json_object_needs_the_word_json_in_the_messages(http: httpx.Client) -> None:
    """Without "json" anywhere in the messages json_object is refused on `messages`; with it
    (any case, any role) the answer is a JSON object."""
    refused = chat(http, response_format={"type": "json_object"})
    assert refused.status_code == 400
    assert error_of(refused)["param"] == "messages"
    assert "must contain the word 'json'" in error_of(refused)["message"]
    messages = [{"role": "system", "content": "Answer in JSON."}, *HELLO]
    answer = json.loads(
        content_of(chat(http, messages=messages, response_format={"type": "json_object"}))
    )
    assert isinstance(answer, dict) and answer["words"] == 11


def test_json_schema_answers_are_valid_and_repeatable(http: httpx.Client) -> None:
    """Answers to json_schema validate against the schema (formats included), the same request
    gets the same answer, and other messages get other values."""
    validator = jsonschema_rs.Draft202012Validator(JUDGEMENT, validate_formats=True)
    spec = {"name": "judgement", "strict": True, "schema": JUDGEMENT}
    response_format = {"type": "json_schema", "json_schema": spec}
    answers = []
    for n in range(12):
        messages = [{"role": "user", "content": f"Judge clip number {n}"}]
        content = content_of(chat(http, messages=messages, response_format=response_format))
        answer = json.loads(content)
        assert validator.is_valid(answer), (content, list(validator.iter_errors(answer)))
        answers.append(content)
    assert len(set(answers)) == len(answers)
    first = [{"role": "user", "content": "Judge clip number 0"}]
    again = chat(http, messages=first, response_format=response_format)
    assert content_of(again) == answers[0]
    usage = again.json()["usage"]
    assert usage["completion_tokens"] == math.ceil(len(answers[0]) / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_completion_budget_cuts_the_answer_with_finish_reason_length(
    http: httpx.Client,
) -> None:
    """max_tokens (or max_completion_tokens) under the answer's length cuts it to 4 characters a
    token and says "length"; the full answer otherwise ends with "stop"."""
    whole = chat(http).json()
    assert whole["choices"][0]["finish_reason"] == "stop"
    full = whole["choices"][0]["message"]["content"]
    for name in ("max_tokens", "max_completion_tokens"):
        cut = chat(http, **{name: 5}).json()
        choice = cut["choices"][0]
        assert choice["finish_reason"] == "length"
        assert choice["message"]["content"] == full[:20]
        assert cut["usage"]["completion_tokens"] == 5


def test_a_stop_sequence_ends_the_answer_where_it_first_appears(http: httpx.Client) -> None:
    """The answer stops before the earliest stop sequence, with finish_reason "stop"."""
    full = content_of(chat(http))
    cut = chat(http, stop=["words", "wrote"]).json()["choices"][0]
    assert cut["message"]["content"] == full[: full.index("wrote")]
    assert cut["finish_reason"] == "stop"


def test_text_answers_quote_the_last_user_message_and_know_the_model(http: httpx.Client) -> None:
    """The text names what the user wrote; the answer carries the model's snapshot, a
    chatcmpl id, the fingerprint, and the API's request headers."""
    response = chat(http, model="gpt-4.1-mini", seed=7)
    body = response.json()
    assert '"Score this clip of a fox jumping over a lazy dog"' in content_of(response)
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4.1-mini-2025-04-14"
    assert body["id"].startswith("chatcmpl-") and body["system_fingerprint"].startswith("fp_")
    assert body["choices"][0]["message"]["refusal"] is None
    assert response.headers["openai-version"] == "2020-10-01"
    assert response.headers["x-request-id"].startswith("req_")
    assert chat(http, model="gpt-4.1-mini", seed=7).json()["id"] != body["id"]


def test_the_script_queue_answers_first_in_first_out(http: httpx.Client) -> None:
    """Queued replies come back exactly and in order (a refusal as refusal with null content);
    a refused request leaves the queue alone; then generated answers resume."""
    queued = [{"content": "7/10, keep it", "finish_reason": "length"}, {"refusal": "I can't."}]
    assert http.post("/_fake/script", json=queued).json() == {"scripts_queued": 2}
    assert chat(http, temperature=9).status_code == 400
    first = chat(http).json()["choices"][0]
    assert first["message"]["content"] == "7/10, keep it" and first["finish_reason"] == "length"
    second = chat(http).json()["choices"][0]["message"]
    assert second["content"] is None and second["refusal"] == "I can't."
    assert content_of(chat(http)).endswith("This is the fake model's deterministic reply.")
    bad_scripts = [
        ({"content": 3}, "content must be a string"),
        ({"content": "a", "refusal": "b"}, "content or a refusal"),
        ({"content": "a", "finish_reason": "tool_calls"}, "finish_reason"),
        ({"text": "a"}, "a script is"),
    ]
    for bad, said in bad_scripts:
        refused = http.post("/_fake/script", json=bad)
        assert refused.status_code == 400 and said in refused.json()["error"]


def test_faults_answer_as_openai_does_with_retry_headers(http: httpx.Client) -> None:
    """A queued 429 carries retry-after and retry-after-ms, then 500 and 503 follow; only
    authorized requests use the faults up; the next request succeeds."""
    http.post("/_fake/faults", json={"status": 429, "retry_after": 7}).raise_for_status()
    http.post("/_fake/faults", json={"status": 500}).raise_for_status()
    http.post("/_fake/faults", json={"status": 503}).raise_for_status()
    http.post(
        "/_fake/faults", json={"status": 429, "code": "insufficient_quota"}
    ).raise_for_status()
    assert http.post(API_PATH, json={"model": "gpt-4o-mini", "messages": HELLO}).status_code == 401
    limited = chat(http, model="gpt-4o")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7" and limited.headers["retry-after-ms"] == "7000"
    error = error_of(limited)
    assert (
        error["code"] == "rate_limit_exceeded"
        and "Rate limit reached for gpt-4o" in error["message"]
    )
    assert [chat(http).status_code for _ in range(2)] == [500, 503]
    quota = chat(http)
    assert quota.status_code == 429 and error_of(quota)["code"] == "insufficient_quota"
    assert "retry-after-ms" not in quota.headers
    assert chat(http).status_code == 200
    assert http.post("/_fake/faults", json={"status": 404}).status_code == 400


def test_reset_clears_and_the_log_never_holds_the_key(http: httpx.Client) -> None:
    """The log shows what was asked and answered, without the key; reset empties the log, the
    scripts and the faults."""
    chat(http, user="editor-1")
    http.post("/_fake/script", json={"content": "x"}).raise_for_status()
    http.post("/_fake/faults", json={"status": 500, "count": 2}).raise_for_status()
    state = http.get("/_fake/state").json()
    assert state["scripts_queued"] == 1 and len(state["faults"]) == 2
    (entry,) = state["requests"]
    assert entry["body"]["user"] == "editor-1" and entry["finish_reason"] == "stop"
    assert SANDBOX_API_KEY not in http.get("/_fake/requests").text
    http.post("/_fake/reset").raise_for_status()
    assert http.get("/_fake/state").json() == {"scripts_queued": 0, "faults": [], "requests": []}


def test_wrong_methods_and_paths_answer_in_the_envelope(http: httpx.Client) -> None:
    """GET on the API is 405 and an unknown path 404, both in OpenAI's envelope."""
    wrong = http.get(API_PATH, headers=AUTH)
    assert wrong.status_code == 405
    assert error_of(wrong)["message"] == f"Invalid method for URL (GET {API_PATH})"
    missing = http.post("/v1/chat/complete", headers=AUTH)
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "Invalid URL (POST /v1/chat/complete)"


def test_created_follows_the_configured_clock() -> None:
    """`created` is the config's clock, so tests can pin it."""
    app = create_llm_app(ChatFakeConfig(clock=lambda: 1_700_000_000.9))
    with serve_in_thread(app) as running, httpx.Client(base_url=running.url) as client:
        assert chat(client).json()["created"] == 1_700_000_000
    assert isinstance(app.state.fake, OpenAIChatFake)


def test_both_openai_fakes_share_one_mount() -> None:
    """With its controls under /_fake/chat, the chat fake lives beside the transcription fake
    under one prefix; each keeps its own state and both answer in OpenAI's envelope."""
    chat_fake, transcription = OpenAIChatFake(), OpenAITranscriptionFake()
    mounted = Mount(
        "/openai", routes=[*chat_fake.routes("/_fake/chat"), Mount("", app=transcription.asgi())]
    )
    with (
        serve_in_thread(Starlette(routes=[mounted])) as running,
        httpx.Client(base_url=f"{running.url}/openai") as client,
    ):
        client.post("/_fake/chat/script", json={"content": "shared"}).raise_for_status()
        client.post("/_fake/faults", json={"status": 503}).raise_for_status()
        assert content_of(chat(client)) == "shared"
        assert client.get(API_PATH).status_code == 405
        assert len(client.get("/_fake/chat/requests").json()) == 2
        assert client.get("/_fake/state").json()["faults"][0]["status"] == 503
        audio = client.post("/v1/audio/transcriptions", files={"file": ("a.mp3", b"x")})
        assert audio.status_code == 401 and "Bearer auth" in error_of(audio)["message"]
