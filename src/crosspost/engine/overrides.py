"""A post's `overrides`: each platform's options, read through the model its client reads.

A new post's overrides are checked strictly (an unknown platform, an unknown option or a badly
typed value is a 422 naming it); a stored post's are read as they were accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crosspost.domain.enums import Platform
from crosspost.errors import InvalidInput
from crosspost.platforms.options import PlatformOptions, ThumbnailOptions, TitledOptions
from crosspost.platforms.registry import client_for, supported_platforms

THUMBNAIL_OPTION = "thumbnail_media_id"


def check_overrides(overrides: Mapping[str, Mapping[str, Any]]) -> dict[Platform, PlatformOptions]:
    """Each platform's options of a new post; InvalidInput (422) for anything no client reads."""
    names = sorted(p.value for p in supported_platforms())
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InvalidInput(
            f"overrides name unknown platforms: {', '.join(unknown)}; use: {', '.join(names)}",
            code="invalid_overrides",
        )
    parsed: dict[Platform, PlatformOptions] = {}
    for name, raw in overrides.items():
        model = client_for(Platform(name)).options_model
        problems = model.problems(raw)
        if not problems:
            parsed[Platform(name)] = model.read(raw)
            continue
        first = problems[0]
        if first.code == "unknown_override" and first.option == THUMBNAIL_OPTION:
            raise InvalidInput(
                f"{name} takes no custom thumbnail; remove overrides.{name}.{THUMBNAIL_OPTION}",
                code="thumbnail_unsupported",
            )
        raise InvalidInput(
            "; ".join(p.message for p in problems),
            code=first.code,
            option=f"overrides.{name}.{first.option}",
            accepted=model.accepted(),
            errors=[
                {"field": f"overrides.{name}.{p.option}", "message": p.message, "type": p.code}
                for p in problems
            ],
        )
    return parsed


def check_targeted(options: Mapping[Platform, PlatformOptions], targeted: Iterable[str]) -> None:
    """Refuse options for a platform the post does not go to: they would be ignored."""
    chosen = {p.value for p, o in options.items() if o.model_fields_set}
    spare = sorted(chosen - set(targeted))
    if spare:
        raise InvalidInput(
            f"overrides.{spare[0]} is set but no target is on {spare[0]}: remove it, or add a "
            f"{spare[0]} target",
            code="override_without_target",
        )


def read_options(overrides: Mapping[str, Any], platform: Platform) -> PlatformOptions:
    """The stored options of `platform` (defaults when none); PlatformError when invalid."""
    return client_for(platform).options_model.read(overrides.get(platform.value) or {})


def title_of(options: PlatformOptions) -> str | None:
    """The title option, on a platform whose posts have one."""
    return options.title if isinstance(options, TitledOptions) else None


def thumbnail_of(options: PlatformOptions) -> str | None:
    """The uploaded cover image named, on a platform that takes one."""
    return options.thumbnail_media_id if isinstance(options, ThumbnailOptions) else None
