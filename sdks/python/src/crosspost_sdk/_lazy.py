"""The generated models, named by the resources and loaded only when an answer is parsed
into one: building every model costs an import about half a second, which a caller that
never parses (a raw client, such as the CLI's) should not pay."""

from __future__ import annotations

import importlib
import typing
from typing import Any


class ModelName(str):
    """The name of a model of `crosspost_sdk.models`, standing in for it until needed."""

    __slots__ = ()


class _Models:
    """`models.PostPublic` → the name `PostPublic`, resolved by `resolve`."""

    def __getattr__(self, name: str) -> ModelName:
        if name.startswith("__"):
            raise AttributeError(name)
        return ModelName(name)


models: Any = _Models()


def resolve(kind: Any) -> Any:
    """`kind` with every model name replaced by its model (`list[ModelName]` too)."""
    if isinstance(kind, ModelName):
        return getattr(importlib.import_module("crosspost_sdk.models"), kind)
    args = typing.get_args(kind)
    if args and any(isinstance(arg, ModelName) for arg in args):
        origin = typing.get_origin(kind)
        return (
            origin[tuple(resolve(arg) for arg in args)]
            if len(args) > 1
            else origin[resolve(args[0])]
        )
    return kind


def field(answer: Any, name: str) -> Any:
    """A member of an answer, parsed (a model) or raw (a dict)."""
    return answer.get(name) if isinstance(answer, dict) else getattr(answer, name, None)
