"""ChatClient against the chat completions fake, served over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from crosspost.config import Settings
from crosspost.domain.enums import ErrorKind
from crosspost.fakes import create_sandbox_app, serve_in_thread
from crosspost.fakes.llm import SANDBOX_API_KEY
from crosspost.fakes.llm_rules import MODELS
from crosspost.providers.chat import ChatClient, ChatMessage, mismatch
from crosspost.providers.errors import ProviderError

ASK: list[ChatMessage] = [
    {"role": "system", "content": "You rate clips."},
    {"role": "user", "content": "Rate the clip where the queue lock is released"},
]
RATING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "verdict": {"type": "string", "enum": ["keep", "drop"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["score", "verdict", "tags"],
    "additionalProperties": False,
}
WRONG_KEY = "sk-proj-WrongKey0123456789abcdefWXYZ"


def control(base: str, what: str, body: Any) -> None:
    """POST to one of the fake's control routes (script, faults)."""
    httpx.post(f"{base.removesuffix('/v1')}/_fake/{what}", json=body).raise_for_status()


def logged(base: str) -> list[dict[str, Any]]:
    """The fake's request log."""
    entries: list[dict[str, Any]] = (
        httpx.get(f"{base.removesuffix('/v1')}/_fake/requests").raise_for_status().json()
    )
    return entries


def failure(base: str, key: str = SANDBOX_API_KEY, **options: Any) -> ProviderError:
    """The ProviderError a JSON completion of RATING raises."""
    with ChatClient(base, key, **options) as client, pytest.raises(ProviderError) as caught:
        client.complete_json(ASK, RATING, name="rating")
    return caught.value


def test_a_json_answer_fits_the_schema_and_counts_its_tokens(base: str) -> None:
    """The answer is the schema's object, parsed; tokens, finish reason and the snapshot come
    from the service; the request is a strict json_schema with a completion budget."""
    with ChatClient(base, SANDBOX_API_KEY) as client:
        answer = client.complete_json(ASK, RATING, name="rating", max_tokens=300, seed=5)
    assert answer.data is not None and mismatch(answer.data, RATING) is None
    assert 0 <= answer.data["score"] <= 1 and answer.data["verdict"] in ("keep", "drop")
    assert json.loads(answer.text) == answer.data
    assert answer.prompt_tokens > 0 and answer.completion_tokens > 0
    assert answer.tokens == answer.prompt_tokens + answer.completion_tokens
    assert (answer.finish_reason, answer.model) == ("stop", "gpt-4o-mini-2024-07-18")
    (sent,) = logged(base)
    assert sent["status"] == 200 and sent["body"]["max_completion_tokens"] == 300
    assert sent["body"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "rating", "strict": True, "schema": RATING},
    }
    assert sent["body"]["temperature"] == 0.0 and sent["body"]["seed"] == 5


def test_the_same_request_gets_the_same_answer(base: str) -> None:
    """Asked twice alike, the answer is the same; other messages get another."""
    with ChatClient(base, SANDBOX_API_KEY) as client:
        first = client.complete_json(ASK, RATING, name="rating")
        again = client.complete_json(ASK, RATING, name="rating")
        other = client.complete_json(
            [{"role": "user", "content": "Rate another clip"}], RATING, name="rating"
        )
    assert first == again
    assert other.text != first.text


def test_complete_text_answers_prose(base: str) -> None:
    """A text completion has the text, no data, and no response_format sent."""
    with ChatClient(base, SANDBOX_API_KEY, "gpt-4.1-mini") as client:
        answer = client.complete_text(ASK, 200)
    assert '"Rate the clip where the queue lock is released"' in answer.text
    assert answer.data is None and answer.model == "gpt-4.1-mini-2025-04-14"
    assert answer.completion_tokens > 0
    (sent,) = logged(base)
    assert "response_format" not in sent["body"] and "temperature" not in sent["body"]


@pytest.mark.parametrize(
    "complete",
    [
        lambda c: c.complete_text(ASK, 3),  # the fake's own cut at 3 tokens
        lambda c: c.complete_json(ASK, RATING, name="rating", max_tokens=4),
    ],
    ids=["text", "json"],
)
def test_an_answer_cut_by_the_budget_is_a_permanent_error(base: str, complete: Any) -> None:
    """finish_reason "length" is answer_truncated, not retryable, whatever was asked."""
    with ChatClient(base, SANDBOX_API_KEY) as client, pytest.raises(ProviderError) as caught:
        complete(client)
    error = caught.value
    assert (error.kind, error.code, error.retryable) == (
        ErrorKind.PERMANENT,
        "answer_truncated",
        False,
    )
    assert "max_tokens" in error.message
    assert logged(base)[0]["finish_reason"] == "length"


def test_a_scripted_truncated_object_is_answer_truncated(base: str) -> None:
    """Half an object with finish_reason length says truncated, not "not JSON"."""
    control(base, "script", {"content": '{"score": 0.', "finish_reason": "length"})
    error = failure(base)
    assert error.code == "answer_truncated" and error.raw == '{"score": 0.'


@pytest.mark.parametrize(
    "content",
    ["The clip is great, keep it.", '{"score": NaN, "verdict": "keep", "tags": []}', ""],
    ids=["prose", "nan", "empty"],
)
def test_an_answer_that_is_not_json_is_answer_not_json(base: str, content: str) -> None:
    """Prose, NaN (Python would parse it) and nothing at all are answer_not_json."""
    control(base, "script", {"content": content})
    error = failure(base)
    assert (error.kind, error.code, error.retryable) == (
        ErrorKind.PERMANENT,
        "answer_not_json",
        False,
    )


@pytest.mark.parametrize(
    ("said", "where"),
    [
        ({"score": "high", "verdict": "keep", "tags": []}, "$.score is a string, not number"),
        ({"score": True, "verdict": "keep", "tags": []}, "$.score is a boolean"),
        ({"score": 0.5, "tags": []}, "$ has no 'verdict'"),
        ({"score": 0.5, "verdict": "maybe", "tags": []}, "$.verdict is 'maybe', not one of"),
        ({"score": 0.5, "verdict": "keep", "tags": [3]}, "$.tags[0] is a number, not string"),
        ({"score": 0.5, "verdict": "keep", "tags": [], "extra": 1}, "'extra', which the"),
        ([0.5, "keep"], "an array, not a JSON object"),
    ],
    ids=["string", "boolean", "missing", "enum", "item", "extra", "array"],
)
def test_an_answer_of_the_wrong_shape_is_answer_mismatch(base: str, said: Any, where: str) -> None:
    """Each way an answer can break the schema's shape is answer_mismatch, saying where."""
    control(base, "script", {"content": json.dumps(said)})
    error = failure(base)
    assert (error.kind, error.code, error.retryable) == (
        ErrorKind.PERMANENT,
        "answer_mismatch",
        False,
    )
    assert where in error.message


def test_out_of_range_numbers_pass_the_shape_check(base: str) -> None:
    """Bounds are the caller's to clamp: 7 for a 0..1 score is returned as said."""
    control(base, "script", {"content": '{"score": 7, "verdict": "keep", "tags": []}'})
    with ChatClient(base, SANDBOX_API_KEY) as client:
        answer = client.complete_json(ASK, RATING, name="rating")
    assert answer.data == {"score": 7, "verdict": "keep", "tags": []}


def test_a_refusal_is_a_permanent_error(base: str) -> None:
    """The model's refusal is `refused`, carrying what it said."""
    control(base, "script", {"refusal": "I can't help with that."})
    error = failure(base)
    assert (error.code, error.retryable) == ("refused", False)
    assert "I can't help with that." in error.message


def test_a_rate_limit_is_retryable_after_the_header(base: str) -> None:
    """429 is rate_limited with retry_after from the service's header."""
    control(base, "faults", {"status": 429, "retry_after": 7})
    error = failure(base)
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.RATE_LIMITED,
        "rate_limited",
        429,
    )
    assert error.retryable and error.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(base: str, status: int) -> None:
    """500 and 503 are retryable server errors; the next request succeeds."""
    control(base, "faults", {"status": status})
    error = failure(base)
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.TRANSIENT,
        "server_error",
        status,
    )
    assert error.retryable
    with ChatClient(base, SANDBOX_API_KEY) as client:
        assert client.complete_json(ASK, RATING, name="rating").data is not None


def test_a_spent_quota_is_not_retried_as_a_rate_limit(base: str) -> None:
    """429 insufficient_quota is the quota kind, with no retry_after."""
    control(base, "faults", {"status": 429, "code": "insufficient_quota"})
    error = failure(base)
    assert (error.kind, error.code, error.retry_after) == (
        ErrorKind.QUOTA,
        "insufficient_quota",
        None,
    )
    assert not error.retryable


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(base: str) -> None:
    """401 is auth, not retryable; neither the key nor its masked form is in any text of the
    error, its raw body or the client's repr."""
    error = failure(base, WRONG_KEY)
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.AUTH,
        "invalid_api_key",
        401,
    )
    assert not error.retryable
    texts = [str(error), repr(error), error.message, json.dumps(error.raw), str(error.args)]
    for text in texts:
        assert WRONG_KEY not in text and WRONG_KEY[-4:] not in text and "*****" not in text
    assert "[redacted]" in json.dumps(error.raw)  # the service did name it, masked
    with ChatClient(base, WRONG_KEY) as client:
        assert WRONG_KEY not in repr(client) and WRONG_KEY not in str(client)


def test_the_sandbox_key_is_in_no_error_either(base: str) -> None:
    """A failure with the right key (a 400 the service words itself) never holds the key."""
    with ChatClient(base, SANDBOX_API_KEY) as client, pytest.raises(ProviderError) as caught:
        client.complete_text(ASK, 100, temperature=5.0)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.PERMANENT,
        "decimal_above_max_value",
        400,
    )
    assert "parameter temperature" in error.message and not error.retryable
    for text in (str(error), repr(error), json.dumps(error.raw)):
        assert SANDBOX_API_KEY not in text


def test_an_unknown_model_is_a_permanent_error(base: str) -> None:
    """404 model_not_found names the model and the base URL to check."""
    error = failure(base, model="gpt-0-nonexistent")
    assert (error.kind, error.code, error.retryable) == (
        ErrorKind.PERMANENT,
        "model_not_found",
        False,
    )
    assert "'gpt-0-nonexistent'" in error.message


def test_an_unreachable_or_silent_service_is_transient() -> None:
    """A closed port is `unreachable`, a port that never answers `timeout`: both retryable,
    neither naming the key."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}/v1")
    assert (error.kind, error.code, error.retryable) == (ErrorKind.TRANSIENT, "unreachable", True)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        error = failure(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout=0.3)
    assert (error.kind, error.code, error.retryable) == (ErrorKind.TRANSIENT, "timeout", True)
    assert SANDBOX_API_KEY not in str(error)


def test_a_borrowed_http_client_is_left_open(base: str) -> None:
    """The caller's client stays open after `with`; the client's own is closed."""
    with httpx.Client() as borrowed:
        with ChatClient(base, SANDBOX_API_KEY, http=borrowed) as client:
            client.complete_text(ASK, 100)
        assert not borrowed.is_closed
        assert "Authorization" not in borrowed.headers  # sent per request, never left behind
    owned = ChatClient(base, SANDBOX_API_KEY)
    owned.close()
    with pytest.raises(RuntimeError):
        owned.complete_text(ASK, 100)
    with pytest.raises(ValueError, match="API key"):
        ChatClient(base, "")


def test_the_settings_reach_the_sandbox_chat_fake() -> None:
    """Test mode's base, key and model are the sandbox's chat fake (mounted beside the
    transcription fake) and one model it serves; live mode's are the configured ones."""
    with serve_in_thread(create_sandbox_app()) as sandbox:
        settings = Settings(
            _env_file=None,
            sandbox_host=sandbox.host,
            sandbox_port=sandbox.port,
            llm_model="gpt-5-pro",
            llm_api_key="sk-live-llm-key-0123456789",
        )
        url, key, model = settings.llm(test_mode=True)
        assert key is not None and model in MODELS
        with ChatClient(url, key, model) as client:
            answer = client.complete_json(ASK, RATING, name="rating")
        assert mismatch(answer.data, RATING) is None
    assert settings.llm(test_mode=False) == (
        "https://api.openai.com/v1",
        "sk-live-llm-key-0123456789",
        "gpt-5-pro",
    )
    assert "sk-live-llm-key-0123456789" not in repr(settings)
    fresh = Settings(_env_file=None)
    assert (fresh.llm_model, fresh.llm_timeout_seconds, fresh.llm_api_key) == (
        "gpt-4o-mini",
        120.0,
        None,
    )
    assert fresh.llm_model in MODELS  # the live default is one the fake serves too


def test_mismatch_reads_the_shape_only() -> None:
    """Types, enums, required and unknown keys and items are checked; bounds are not."""
    assert mismatch({"score": 2, "verdict": "keep", "tags": ["a"]}, RATING) is None
    assert mismatch({"score": 0.1, "verdict": "keep", "tags": "a"}, RATING) == (
        "$.tags is a string, not array"
    )
    assert mismatch(None, {"type": ["string", "null"]}) is None
    assert mismatch(3.0, {"type": "integer"}) is None and mismatch(3.5, {"type": "integer"})
