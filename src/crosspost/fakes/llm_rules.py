"""OpenAI's Chat Completions API as the fake enforces it: the models, each request field's
checks in the order the API reports them, structured outputs' schema rules, and the token
approximation.

Written from OpenAI's API reference (`POST /v1/chat/completions`), its structured-outputs guide
and the error bodies users have reported, never from our client. The error envelope, the key
errors and the injected faults are the transcription fake's (`transcription_rules`): one API,
one envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crosspost.fakes.transcription_rules import ApiError


@dataclass(frozen=True)
class Model:
    """A chat model: the dated snapshot it answers as, and its limits in tokens."""

    snapshot: str
    max_output: int
    context: int


_ALIASES = {
    "gpt-4o-mini": Model("gpt-4o-mini-2024-07-18", 16_384, 128_000),
    "gpt-4o": Model("gpt-4o-2024-08-06", 16_384, 128_000),
    "gpt-4.1": Model("gpt-4.1-2025-04-14", 32_768, 1_047_576),
    "gpt-4.1-mini": Model("gpt-4.1-mini-2025-04-14", 32_768, 1_047_576),
    "gpt-4.1-nano": Model("gpt-4.1-nano-2025-04-14", 32_768, 1_047_576),
}
# An alias or its snapshot; either way the answer names the snapshot, as the real one does.
MODELS: dict[str, Model] = {**_ALIASES, **{m.snapshot: m for m in _ALIASES.values()}}

# Fields the fake reads, or checks and then ignores (sampling knobs, bookkeeping).
FIELDS = frozenset(
    {
        "model", "messages", "temperature", "top_p", "frequency_penalty", "presence_penalty",
        "max_tokens", "max_completion_tokens", "response_format", "seed", "n", "stream", "stop",
        "user", "safety_identifier", "prompt_cache_key", "metadata", "store",
    }
)  # fmt: skip
# Real fields the fake does not implement: refused with a 400 saying so rather than ignored,
# so no client believes it tested them here.
NOT_IMPLEMENTED = frozenset(
    {
        "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "logprobs",
        "top_logprobs", "logit_bias", "audio", "modalities", "prediction", "stream_options",
        "web_search_options", "service_tier",
    }
)  # fmt: skip
ROLES = ("system", "developer", "user", "assistant", "tool")
_ROLES_LISTED = ("system", "assistant", "user", "function", "tool", "developer")  # the error's
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_PARTS = {
    "system": ("text",),
    "developer": ("text",),
    "tool": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
}
_ASKING = frozenset({"role", "content", "name"})
_MESSAGE_KEYS = {
    "system": _ASKING,
    "developer": _ASKING,
    "user": _ASKING,
    "assistant": _ASKING | {"refusal", "tool_calls", "function_call", "audio"},
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
FORMAT_TYPES = ("json_object", "json_schema", "text")
_SCHEMA_NAME = re.compile(r"[a-zA-Z0-9_-]+")
IMAGE_TOKENS = 85  # a low-detail image's flat price; the fake never looks at the picture
MAX_STOP = 4


@dataclass(frozen=True)
class Turn:
    """One message as the fake reads it: its role, its text parts joined, its image count."""

    role: str
    text: str
    images: int = 0


@dataclass(frozen=True)
class ResponseFormat:
    """What the answer must be: text, any JSON object, or an object of a schema."""

    type: str = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool = False


@dataclass(frozen=True)
class ChatRequest:
    """A request that passed every check."""

    model: str
    limits: Model
    turns: tuple[Turn, ...]
    response_format: ResponseFormat
    max_tokens: int | None
    stop: tuple[str, ...]


# -- errors -----------------------------------------------------------------------------------


def unparsable() -> ApiError:
    """400 for a body that is not a JSON object."""
    return ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
        "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
        "contact us through our help center at help.openai.com.)",
    )


def not_implemented(param: str, what: str) -> ApiError:
    """400 for something the real API takes and this fake does not: said plainly, so nobody
    mistakes it for the real API's answer."""
    return ApiError(
        400,
        f"The crosspost fake of the Chat Completions API does not implement {what}.",
        param=param,
        code="unsupported_parameter",
    )


def _missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _unknown(param: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _listed(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) < 3:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _invalid_value(param: str, value: Any, allowed: Sequence[str]) -> ApiError:
    shown = f"'{value}'" if isinstance(value, str) else json.dumps(value)
    return ApiError(
        400,
        f"Invalid value: {shown}. Supported values are: {_listed(allowed)}.",
        param=param,
        code="invalid_value",
    )


def _too_long(param: str, length: int, limit: int) -> ApiError:
    return ApiError(
        400,
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_above_max_length",
    )


def _empty(param: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        param=param,
        code="empty_array",
    )


# -- scalar fields ----------------------------------------------------------------------------


def _number(
    body: Mapping[str, Any], name: str, low: float | None, high: float | None, *, integer: bool
) -> Any:
    """The field's value if present (null counts as absent), within [low, high]."""
    value = body.get(name)
    if value is None:
        return None
    wrong = isinstance(value, bool) or not isinstance(value, int if integer else int | float)
    if wrong:
        raise _invalid_type(name, "an integer" if integer else "a decimal", value)
    kind = "integer" if integer else "decimal"
    for bound, below in ((low, True), (high, False)):
        if bound is None or (value >= bound if below else value <= bound):
            continue
        side, sign = ("below minimum", ">=") if below else ("above maximum", "<=")
        raise ApiError(
            400,
            f"Invalid '{name}': {kind} {side} value. Expected a value {sign} {bound}, but got "
            f"{json.dumps(value)} instead.",
            param=name,
            code=f"{kind}_{'below_min' if below else 'above_max'}_value",
        )
    return value


def _string(body: Mapping[str, Any], name: str) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid_type(name, "a string", value)


def _boolean(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid_type(name, "a boolean", value)
    return value


def _max_tokens(body: Mapping[str, Any], limits: Model) -> int | None:
    """The completion budget; max_completion_tokens (which replaced max_tokens) wins if both."""
    chosen: int | None = None
    for name in ("max_tokens", "max_completion_tokens"):
        value = _number(body, name, 1, None, integer=True)
        if value is not None and value > limits.max_output:
            raise ApiError(
                400,
                f"{name} is too large: {value}. This model supports at most "
                f"{limits.max_output} completion tokens, whereas you provided {value}.",
                param=name,
            )
        chosen = value if value is not None else chosen
    return chosen


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise _invalid_type("stop", "one of a string or array of strings", value)
    if len(value) > MAX_STOP:
        raise ApiError(
            400,
            f"Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, "
            f"but got an array with length {len(value)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _invalid_type(f"stop[{index}]", "a string", item)
    return tuple(value)


def _metadata(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid_type("metadata", "an object", value)
    if len(value) > 16:
        raise ApiError(
            400,
            "Invalid 'metadata': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(value)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid_type(f"metadata.{key}", "a string", item)
        if len(item) > 512:
            raise _too_long(f"metadata.{key}", len(item), 512)


# -- messages ---------------------------------------------------------------------------------


def _turns(messages: Any) -> tuple[Turn, ...]:
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array of objects", messages)
    if not messages:
        raise _empty("messages")
    return tuple(_turn(index, message) for index, message in enumerate(messages))


def _turn(index: int, message: Any) -> Turn:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _invalid_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise _missing(f"{where}.role")
    if role == "function":
        raise not_implemented(f"{where}.role", "the deprecated 'function' role")
    if role not in ROLES:
        raise _invalid_value(f"{where}.role", role, _ROLES_LISTED)
    for key in message:
        if key not in _MESSAGE_KEYS[role]:
            raise _unknown(f"{where}.{key}")
    for key in ("tool_calls", "function_call", "audio"):
        if message.get(key) is not None:
            raise not_implemented(f"{where}.{key}", f"'{key}' (it answers no tool calls)")
    for key in ("name", "refusal"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise _invalid_type(f"{where}.{key}", "a string", message[key])
    if role == "tool":
        if message.get("tool_call_id") is None:
            raise _missing(f"{where}.tool_call_id")
        # The fake refuses tool_calls, so no tool message can answer one. The real message
        # (its spelling and its odd param included) is what a client then sees.
        raise ApiError(
            400,
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.",
            param=f"messages.[{index}].role",
        )
    content = message.get("content")
    if content is None:
        if role == "assistant":  # the reference: required unless tool_calls are given
            return Turn(role, "")
        raise _missing(f"{where}.content")
    if isinstance(content, str):
        return Turn(role, content)
    if not isinstance(content, list):
        raise _invalid_type(f"{where}.content", "one of a string or array of objects", content)
    if not content:
        raise _empty(f"{where}.content")
    texts: list[str] = []
    images = 0
    for number, part in enumerate(content):
        text = _part(role, f"{where}.content[{number}]", part)
        if text is None:
            images += 1
        else:
            texts.append(text)
    return Turn(role, "\n".join(texts), images)


def _part(role: str, where: str, part: Any) -> str | None:
    """A content part's text, or None for an image."""
    if not isinstance(part, dict):
        raise _invalid_type(where, "an object", part)
    kind = part.get("type")
    if kind is None:
        raise _missing(f"{where}.type")
    if kind not in PART_TYPES:
        raise _invalid_value(f"{where}.type", kind, PART_TYPES)
    if kind not in _PARTS[role]:
        raise _invalid_value(f"{where}.type", kind, _PARTS[role])
    if kind in ("input_audio", "file"):
        raise not_implemented(f"{where}.type", f"'{kind}' content parts")
    for key in part:
        if key not in ("type", kind):
            raise _unknown(f"{where}.{key}")
    value = part.get(kind)
    if value is None:
        raise _missing(f"{where}.{kind}")
    if kind != "image_url":
        if not isinstance(value, str):
            raise _invalid_type(f"{where}.{kind}", "a string", value)
        return value
    if not isinstance(value, dict):
        raise _invalid_type(f"{where}.image_url", "an object", value)
    if not isinstance(value.get("url"), str):
        if value.get("url") is None:
            raise _missing(f"{where}.image_url.url")
        raise _invalid_type(f"{where}.image_url.url", "a string", value["url"])
    detail = value.get("detail")
    if detail is not None and detail not in ("auto", "low", "high"):
        raise _invalid_value(f"{where}.image_url.detail", detail, ("auto", "low", "high"))
    return None


# -- response_format --------------------------------------------------------------------------


def _response_format(value: Any) -> ResponseFormat:
    if value is None:
        return ResponseFormat()
    if not isinstance(value, dict):
        raise _invalid_type("response_format", "an object", value)
    kind = value.get("type")
    if kind is None:
        raise _missing("response_format.type")
    if kind not in FORMAT_TYPES:
        raise _invalid_value("response_format.type", kind, FORMAT_TYPES)
    for key in value:
        if key != "type" and not (kind == "json_schema" and key == "json_schema"):
            raise _unknown(f"response_format.{key}")
    if kind != "json_schema":
        return ResponseFormat(kind)
    spec = value.get("json_schema")
    at = "response_format.json_schema"
    if spec is None:
        raise _missing(at)
    if not isinstance(spec, dict):
        raise _invalid_type(at, "an object", spec)
    for key in spec:
        if key not in ("name", "description", "schema", "strict"):
            raise _unknown(f"{at}.{key}")
    name = spec.get("name")
    if name is None:
        raise _missing(f"{at}.name")
    if not isinstance(name, str):
        raise _invalid_type(f"{at}.name", "a string", name)
    if not _SCHEMA_NAME.fullmatch(name):
        raise ApiError(
            400,
            f"Invalid '{at}.name': string does not match pattern. Expected a string that "
            "matches the pattern '^[a-zA-Z0-9_-]+$'.",
            param=f"{at}.name",
            code="invalid_value",
        )
    if len(name) > 64:
        raise _too_long(f"{at}.name", len(name), 64)
    _string(spec, "description")
    strict = bool(_boolean(spec, "strict"))
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise _invalid_type(f"{at}.schema", "an object", schema)
    schema = schema or {}
    check_schema(name, schema, strict=strict)
    return ResponseFormat("json_schema", name, schema, strict)


def check_schema(name: str, schema: Mapping[str, Any], *, strict: bool) -> None:
    """The schema rules of structured outputs: an object at the root always; with strict, every
    object closed (additionalProperties false) and requiring each of its properties."""
    prefix = f"Invalid schema for response_format '{name}': "
    if schema.get("type") != "object":
        raise ApiError(
            400,
            f"{prefix}schema must be a JSON Schema of 'type: \"object\"', got "
            f"'type: \"{schema.get('type')}\"'.",
            param="response_format",
        )
    problem = _strict_problem(schema, ()) if strict else None
    if problem:
        raise ApiError(400, prefix + problem, param="response_format")


def _strict_problem(node: Any, path: tuple[str, ...]) -> str | None:
    """The first strict-mode violation at or under `node`, worded as the API words it."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            found = _strict_problem(item, (*path, str(index)))
            if found:
                return found
        return None
    if not isinstance(node, dict):
        return None
    types = node.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types):
        context = f"In context={path!r}, "
        if node.get("additionalProperties") is not False:
            return f"{context}'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties") or {}
        required = node.get("required") or []
        keys = "'required' is required to be supplied and to be an array including every key in"
        for key in properties:
            if key not in required:
                return f"{context}{keys} properties. Missing '{key}'."
        for key in required:
            if key not in properties:
                return f"{context}{keys} properties. Extra required key '{key}' supplied."
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for child_name, child in children.items():
                found = _strict_problem(child, (*path, key, child_name))
                if found:
                    return found
    for key in ("items", "prefixItems", "anyOf", "allOf"):
        if key in node:
            found = _strict_problem(node[key], (*path, key))
            if found:
                return found
    return None


# -- the whole request ------------------------------------------------------------------------


def tokens(text: str) -> int:
    """The fake's token count: one per 4 characters, rounded up (OpenAI's rule of thumb for
    English text); deterministic, and near enough for budgets and truncation."""
    return -(-len(text) // 4)


def prompt_tokens(turns: Sequence[Turn]) -> int:
    """3 tokens of framing per message and 3 priming the reply (the count OpenAI's cookbook
    gives for its chat models), plus each message's text and images."""
    return 3 + sum(3 + tokens(turn.text) + IMAGE_TOKENS * turn.images for turn in turns)


def checked(body: Any, models: Mapping[str, Model]) -> ChatRequest:
    """The request, checked field by field; raises the ApiError of the first fault, in the
    order the API reports them (model, messages present, field names, then values)."""
    if not isinstance(body, dict):
        raise unparsable()
    model = body.get("model")
    if model is None or model == "":
        raise ApiError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    if body.get("messages") is None:
        raise _missing("messages")
    for name in body:
        if name in NOT_IMPLEMENTED:
            raise not_implemented(name, f"'{name}'")
        if name not in FIELDS:
            raise ApiError(400, f"Unrecognized request argument supplied: {name}")
    limits = models.get(model)
    if limits is None:
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    turns = _turns(body["messages"])
    _number(body, "temperature", 0, 2, integer=False)
    _number(body, "top_p", 0, 1, integer=False)
    _number(body, "frequency_penalty", -2, 2, integer=False)
    _number(body, "presence_penalty", -2, 2, integer=False)
    if _number(body, "n", 1, 128, integer=True) not in (None, 1):
        raise not_implemented("n", "more than one choice ('n' must be 1)")
    _number(body, "seed", None, None, integer=True)
    max_tokens = _max_tokens(body, limits)
    stop = _stop(body.get("stop"))
    if _boolean(body, "stream"):
        raise not_implemented("stream", "streaming: send 'stream': false, or leave it out")
    _boolean(body, "store")
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        _string(body, name)
    _metadata(body.get("metadata"))
    response_format = _response_format(body.get("response_format"))
    if response_format.type == "json_object" and not any("json" in t.text.lower() for t in turns):
        raise ApiError(
            400,
            "'messages' must contain the word 'json' in some form, to use 'response_format' of "
            "type 'json_object'.",
            param="messages",
        )
    used = prompt_tokens(turns)
    if used > limits.context:
        raise ApiError(
            400,
            f"This model's maximum context length is {limits.context} tokens. However, your "
            f"messages resulted in {used} tokens. Please reduce the length of the messages.",
            param="messages",
            code="context_length_exceeded",
        )
    return ChatRequest(model, limits, turns, response_format, max_tokens, stop)
