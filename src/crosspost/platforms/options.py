"""The options a post may carry for one platform (`overrides.<platform>`).

Each platform declares one model, and its client reads its options only through that model
(typed attributes), so the API can accept exactly what a client reads: an unknown key or a
value of the wrong type is refused when the post is created, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from crosspost.domain.enums import ErrorKind
from crosspost.platforms.errors import PlatformError


def _one_tag_as_list(value: Any) -> Any:
    # A single tag is a one-tag list; left alone, a string would be read as its characters.
    return [value] if isinstance(value, str) else value


Tags = Annotated[list[str], BeforeValidator(_one_tag_as_list)]


@dataclass(frozen=True)
class OptionProblem:
    """One refused option: `unknown_override` or `invalid_override`, and what to change."""

    code: str
    option: str
    message: str


class PlatformOptions(BaseModel):
    """Options every platform takes; each platform's model adds its own."""

    # Stored posts from before options were checked may hold keys no client reads: ignore
    # them when reading; `problems` refuses them in new posts.
    model_config = ConfigDict(extra="ignore", frozen=True)
    platform: ClassVar[str] = ""  # the platform's name, as under `overrides`

    text: str | None = Field(
        default=None, description="the text on this platform, instead of the post's `text`"
    )

    @classmethod
    def accepted(cls) -> list[str]:
        """Every option name this platform takes (including older names still accepted)."""
        names: set[str] = set()
        for name, info in cls.model_fields.items():
            names.add(name)
            if isinstance(info.validation_alias, AliasChoices):
                names.update(c for c in info.validation_alias.choices if isinstance(c, str))
        return sorted(names)

    @classmethod
    def problems(cls, raw: Mapping[str, Any]) -> list[OptionProblem]:
        """Every unknown key and badly typed value of `raw`, each named by its path (e.g.
        `overrides.youtube.privacy_status`). Types are checked strictly: "yes" is no boolean."""
        where = f"overrides.{cls.platform}"
        accepted = cls.accepted()
        found = [
            OptionProblem(
                "unknown_override",
                key,
                f"{where}.{key} is not an option of this platform; it takes: "
                + ", ".join(accepted),
            )
            for key in sorted(set(raw) - set(accepted))
        ]
        try:
            cls.model_validate(dict(raw), strict=True)
        except ValidationError as err:
            found.extend(cls._problem(error) for error in err.errors())
        return found

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Self:
        """The options of a stored post, as its client reads them; a value no longer valid is
        a permanent failure of the target, saying which option and why."""
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as err:
            first = cls._problem(err.errors()[0])
            raise PlatformError(ErrorKind.PERMANENT, first.code, first.message) from None

    @classmethod
    def _problem(cls, error: Any) -> OptionProblem:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        option = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"])
        field = cls.model_fields.get(option)
        if error["type"] == "string_pattern_mismatch" and field and field.description:
            message = f"should be {field.description}"  # the regex itself helps nobody
        try:
            shown = json.dumps(error.get("input"))
        except (TypeError, ValueError):
            shown = repr(error.get("input"))
        return OptionProblem(
            "invalid_override", option, f"overrides.{cls.platform}{path}: {message} (got {shown})"
        )


class TitledOptions(PlatformOptions):
    """Options of a platform whose posts have a title besides their text."""

    title: str | None = Field(
        default=None, description="the title (default: the first line of the text)"
    )


class ThumbnailOptions(PlatformOptions):
    """Options of a platform that takes a custom cover image."""

    thumbnail_media_id: str | None = Field(
        default=None, description="an uploaded JPEG or PNG image to use as the cover"
    )


class CommentOptions(PlatformOptions):
    """Options of a platform where crosspost can post a first comment under the post."""

    first_comment_max_chars: ClassVar[int] = 0  # the platform's documented comment limit

    first_comment: str | None = Field(
        default=None,
        description="a comment posted under the post once it is live (a reply on X); its "
        "failure never fails the post",
    )

    @classmethod
    def comment_length(cls, text: str) -> int:
        """How long the platform counts a comment (characters, unless it weighs them)."""
        return len(text)

    @field_validator("first_comment")
    @classmethod
    def _comment_fits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("the first comment is empty; remove it or give it text")
        length, limit = cls.comment_length(value), cls.first_comment_max_chars
        if length > limit:
            raise ValueError(
                f"the first comment is {length} characters long; {cls.platform} takes at most "
                f"{limit}"
            )
        return value
