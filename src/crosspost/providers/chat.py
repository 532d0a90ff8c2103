"""Chat completions: a client of OpenAI's `POST /chat/completions` (also spoken by compatible
services: point `base_url` at them), for answers of a JSON schema and for prose.

Structured answers are asked for with a strict ``json_schema`` response format, then checked
here against the schema's shape (types, required and unknown properties, enums; numeric bounds
are left to the caller, which clamps): a compatible service without strict mode must not slip a
wrong shape through. An answer that stopped early, was refused, is not JSON or has the wrong
shape is a permanent `ProviderError` with a stable code (`ANSWER_CODES`).

The client does not retry. A failure is a `ProviderError` whose kind says whether to (and
`retry_after` when); the job that called it owns the retry policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import httpx

from crosspost.domain.enums import ErrorKind
from crosspost.providers.errors import ProviderError
from crosspost.providers.openai_http import DEFAULT_BASE_URL, Failure, OpenAIHTTP

DEFAULT_MODEL = "gpt-4o-mini"
# The codes of a 200 answer that cannot be used: stable, so callers and tests can match them.
ANSWER_CODES = frozenset(
    {"answer_truncated", "answer_not_json", "answer_mismatch", "refused", "content_filtered"}
)


class ChatMessage(TypedDict):
    """One message of the conversation sent."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class ChatAnswer:
    """One completion: its text, the object parsed from it (JSON answers only), the tokens it
    cost, why it stopped and the model (snapshot) that answered."""

    text: str
    data: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    model: str

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together, as the service bills them."""
        return self.prompt_tokens + self.completion_tokens


class ChatClient(OpenAIHTTP):
    """A client of an OpenAI-compatible Chat Completions API.

    `http` is borrowed and left open; without it the client owns one (close it, or use
    ``with``). The key is sent per request and never kept in a repr or an error.
    """

    _settings = "LLM"
    _timeout_advice = "raise the LLM timeout"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = 120.0,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, model, timeout=timeout, http=http)

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, Any],
        *,
        name: str,
        max_tokens: int = 1000,
        temperature: float | None = 0.0,
        seed: int | None = None,
    ) -> ChatAnswer:
        """An answer that is an object of `schema` (an object schema, strict-mode ready: every
        object closed and requiring all its properties), named `name`; `data` holds it."""
        body: dict[str, Any] = {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "strict": True, "schema": dict(schema)},
            }
        }
        if seed is not None:
            body["seed"] = seed
        answer = self._complete(messages, max_tokens, temperature, body)
        data = self._parsed(answer.text)
        found = mismatch(data, schema)
        if found:
            raise self._unusable(
                "answer_mismatch",
                f"the model's answer does not fit the {name!r} schema ({found}): the service "
                f"may not enforce strict json_schema; use a model that does (now {self.model!r})",
                answer.text,
            )
        return ChatAnswer(
            answer.text,
            data,
            answer.prompt_tokens,
            answer.completion_tokens,
            answer.finish_reason,
            answer.model,
        )

    def complete_text(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        *,
        temperature: float | None = None,
    ) -> ChatAnswer:
        """A prose answer of at most `max_tokens` tokens; one the budget cut short is an
        error (answer_truncated), never half a sentence."""
        return self._complete(messages, max_tokens, temperature, {})

    # -- one request -------------------------------------------------------------------------

    def _complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        temperature: float | None,
        extra: Mapping[str, Any],
    ) -> ChatAnswer:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            # The current name; OpenAI's newer models refuse the older max_tokens.
            "max_completion_tokens": max_tokens,
            **extra,
        }
        if temperature is not None:
            body["temperature"] = temperature
        return self._answer(self._post("/chat/completions", json=body))

    def _classify_more(
        self, status: int, code: str, said: str, failure: Failure
    ) -> ProviderError | None:
        """A 429 is a rate limit; 408, 409 and 5xx are transient."""
        if status == 429:
            return failure(
                ErrorKind.RATE_LIMITED,
                "rate_limited",
                f"{self._host} rate-limited the request ({said or 'no detail'}): retry later",
            )
        # 408 and 409 are what OpenAI's own client retries besides 429 and 5xx.
        if status >= 500 or status in (408, 409):
            return failure(ErrorKind.TRANSIENT, "server_error", self._try_later(status, said))
        return None

    def _answer(self, response: httpx.Response) -> ChatAnswer:
        """The completion's first choice; a body that is not one is transient (a proxy's page,
        a cut connection), an answer that cannot be used permanent."""
        try:
            body = response.json()
            choice = body["choices"][0]
            message = choice["message"]
            finish = choice.get("finish_reason")
            if not isinstance(message, dict) or not isinstance(finish, str):
                raise TypeError("no message or finish_reason")
            usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
            model = body.get("model")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise self._malformed(
                response,
                f"{self._host} answered 200 with a body that is not a chat completion ({exc}): "
                "retry; if it persists the base URL does not speak OpenAI's API",
            ) from None
        refusal, content = message.get("refusal"), message.get("content")
        if isinstance(refusal, str) and refusal:
            raise self._unusable("refused", f"the model refused to answer: {refusal}", refusal)
        if finish == "content_filter":
            raise self._unusable(
                "content_filtered",
                f"{self._host}'s content filter withheld the answer: the input was flagged",
                content,
            )
        if finish == "length":
            raise self._unusable(
                "answer_truncated",
                "the answer was cut off at the completion token budget (finish_reason "
                "'length'): raise max_tokens or send less",
                content,
            )
        if not isinstance(content, str):
            raise self._malformed(
                response, f"{self._host} answered without content or a refusal: retry"
            )
        return ChatAnswer(
            content,
            None,
            _count(usage.get("prompt_tokens")),
            _count(usage.get("completion_tokens")),
            finish,
            model if isinstance(model, str) else self.model,
        )

    def _parsed(self, text: str) -> dict[str, Any]:
        def refuse(constant: str) -> Any:
            raise ValueError(f"{constant} is not JSON")

        try:
            data = json.loads(text, parse_constant=refuse)
        except ValueError as exc:
            raise self._unusable(
                "answer_not_json",
                f"the model's answer is not JSON ({exc}): the service may not support "
                f"response_format json_schema for {self.model!r}",
                text,
            ) from None
        if not isinstance(data, dict):
            raise self._unusable(
                "answer_mismatch",
                f"the model's answer is {_kind(data)}, not a JSON object",
                text,
            )
        return data

    def _unusable(self, code: str, message: str, said: Any) -> ProviderError:
        """A 200 answer that cannot be used: sending the same again would not help."""
        shown = said[:500] if isinstance(said, str) else said
        return ProviderError(
            ErrorKind.PERMANENT, code, message, http_status=200, raw=self._redact(shown)
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _fits_type(value: Any, kind: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    fits = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "number": number,
        "integer": number and float(value).is_integer(),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }
    return fits.get(kind, True)  # a type this check does not know is not held against it


def mismatch(value: Any, schema: Mapping[str, Any], where: str = "$") -> str | None:
    """Where and how `value` breaks the shape of `schema` (type, enum, required and unknown
    properties, array items), or None when it fits; bounds and formats are not checked."""
    types = schema.get("type")
    if types is not None:
        listed = types if isinstance(types, list) else [types]
        if not any(_fits_type(value, kind) for kind in listed):
            return f"{where} is {_kind(value)}, not {' or '.join(map(str, listed))}"
    allowed = schema.get("enum")
    if isinstance(allowed, list) and value not in allowed:
        return f"{where} is {value!r}, not one of {allowed}"
    if isinstance(value, dict):
        properties: Any = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        for key in schema.get("required") or []:
            if key not in value:
                return f"{where} has no {key!r}"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(properties))
            if extra:
                return f"{where} has {extra[0]!r}, which the schema does not list"
        for key, inner in properties.items():
            if key in value and isinstance(inner, dict):
                found = mismatch(value[key], inner, f"{where}.{key}")
                if found:
                    return found
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        for index, item in enumerate(value):
            found = mismatch(item, items, f"{where}[{index}]")
            if found:
                return found
    return None


__all__ = [
    "ANSWER_CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ChatAnswer",
    "ChatClient",
    "ChatMessage",
    "mismatch",
]
