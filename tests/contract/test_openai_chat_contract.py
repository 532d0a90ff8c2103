"""OpenAI's own Python client (`openai`) against the chat completions fake.

The official client builds the request its own way (``parse`` turns a pydantic model into a
strict json_schema), reads the answer into its own types and raises its own exceptions from the
error envelope; if the fake and our client shared a misreading of the API, this suite is where
it would show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import httpx
import jsonschema_rs
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import BaseModel, Field

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.llm import SANDBOX_API_KEY, OpenAIChatFake

ASK: list[ChatCompletionMessageParam] = [
    {"role": "developer", "content": "You judge short video clips."},
    {"role": "user", "content": [{"type": "text", "text": "Is this clip worth posting?"}]},
]


class Moment(BaseModel):
    """A point in the clip."""

    at_seconds: float = Field(ge=0, le=60)
    label: str


class Judgement(BaseModel):
    """What an LLM judge answers about a clip."""

    score: float = Field(ge=0, le=10)
    verdict: Literal["publish", "hold", "drop"]
    reasons: list[str]
    best: Moment | None


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The fake at the root of its own server."""
    with serve_in_thread(OpenAIChatFake().asgi()) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    """The official client on the reset fake, without its own retries."""
    httpx.post(f"{server.url}/_fake/reset").raise_for_status()
    with openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=SANDBOX_API_KEY, max_retries=0
    ) as official:
        yield official


def test_text_completion_reads_into_the_official_types(client: openai.OpenAI) -> None:
    """A plain completion is a ChatCompletion with the snapshot's name, the text, token usage
    that adds up, and the request id from the response header."""
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, seed=3)
    assert isinstance(completion, ChatCompletion)
    assert completion.model == "gpt-4o-mini-2024-07-18" and completion.id.startswith("chatcmpl-")
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert '"Is this clip worth posting?"' in (choice.message.content or "")
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert (completion._request_id or "").startswith("req_")


def test_json_object_mode_answers_an_object(client: openai.OpenAI) -> None:
    """json_object with "JSON" in the messages answers a parseable object."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Reply in JSON."},
        *ASK,
    ]
    completion = client.chat.completions.create(
        model="gpt-4o", messages=messages, response_format={"type": "json_object"}
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert isinstance(answer, dict) and answer["words"] == 5


def test_json_schema_through_create_validates(client: openai.OpenAI) -> None:
    """A hand-written strict json_schema gets an answer valid against it."""
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "why": {"type": "string", "maxLength": 12},
        },
        "required": ["score", "why"],
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=ASK,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "rating", "strict": True, "schema": schema},
        },
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert jsonschema_rs.Draft202012Validator(schema).is_valid(answer), answer


def test_parse_fills_a_pydantic_model(client: openai.OpenAI) -> None:
    """`chat.completions.parse` sends the model's strict schema ($defs, anyOf with null,
    bounds, a Literal) and gets back an instance within every constraint, the same each time."""
    first = client.chat.completions.parse(model="gpt-4o", messages=ASK, response_format=Judgement)
    judgement = first.choices[0].message.parsed
    assert isinstance(judgement, Judgement)
    assert 0 <= judgement.score <= 10 and judgement.verdict in ("publish", "hold", "drop")
    again = client.chat.completions.parse(model="gpt-4o", messages=ASK, response_format=Judgement)
    assert again.choices[0].message.parsed == judgement


def test_a_scripted_refusal_reaches_parse_as_a_refusal(
    client: openai.OpenAI, server: RunningServer
) -> None:
    """A queued refusal comes back as message.refusal with nothing parsed."""
    script = {"refusal": "I can't judge this clip."}
    httpx.post(f"{server.url}/_fake/script", json=script).raise_for_status()
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=ASK, response_format=Judgement
    )
    message = completion.choices[0].message
    assert message.refusal == "I can't judge this clip." and message.parsed is None


def test_a_cut_answer_is_the_clients_length_error(client: openai.OpenAI) -> None:
    """A budget too small for the JSON ends with "length", which `parse` raises as
    LengthFinishReasonError."""
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(
            model="gpt-4o-mini", messages=ASK, response_format=Judgement, max_tokens=4
        )


def test_a_wrong_key_is_authentication_error(server: RunningServer) -> None:
    """A wrong key is AuthenticationError (401, invalid_api_key) with the key masked."""
    with (
        openai.OpenAI(
            base_url=f"{server.url}/v1", api_key="sk-not-the-right-one-4321", max_retries=0
        ) as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        wrong.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert "not-the-right" not in str(caught.value) and "4321" in caught.value.message


def test_request_refusals_are_bad_request_errors(client: openai.OpenAI) -> None:
    """json_object without "json", an out-of-range temperature and stream=True are
    BadRequestError carrying the fake's message, param and code."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=ASK, response_format={"type": "json_object"}
        )
    assert caught.value.param == "messages"
    assert "must contain the word 'json'" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK, temperature=2.5)
    assert caught.value.code == "decimal_above_max_value" and caught.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True)
    assert caught.value.param == "stream" and "does not implement streaming" in str(caught.value)


def test_an_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    """A model the API does not have is NotFoundError with code model_not_found."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-3", messages=ASK)
    assert caught.value.code == "model_not_found"


def test_injected_faults_then_the_clients_own_retry(
    client: openai.OpenAI, server: RunningServer
) -> None:
    """An injected 429 is RateLimitError with both retry headers and a 503 InternalServerError;
    with max_retries=1 the client waits as told and gets the answer."""
    faults = f"{server.url}/_fake/faults"
    httpx.post(faults, json={"status": 429, "retry_after": 0}).raise_for_status()
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    headers = limited.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("0", "0")
    assert limited.value.code == "rate_limit_exceeded"
    httpx.post(faults, json={"status": 503}).raise_for_status()
    with pytest.raises(openai.InternalServerError) as overloaded:
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert overloaded.value.status_code == 503
    httpx.post(faults, json={"status": 429, "retry_after": 0}).raise_for_status()
    retried = client.with_options(max_retries=1).chat.completions.create(
        model="gpt-4o-mini", messages=ASK
    )
    assert retried.choices[0].finish_reason == "stop"
    log = httpx.get(f"{server.url}/_fake/requests").raise_for_status().json()
    assert [entry["status"] for entry in log] == [429, 503, 429, 200]
