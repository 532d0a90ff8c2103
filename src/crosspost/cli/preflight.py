"""What `crosspost publish` checks before it uploads a byte, with the server's own rules
(targets, time and daylight saving, each platform's options and limits, the key's checksum),
so that a typo never costs an upload; and the server's answers in the CLI's words (`--tz`,
not `timezone`)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crosspost.cli._common import ExitCode, did_you_mean
from crosspost.domain.enums import Platform
from crosspost.platforms.options import PlatformOptions


class Refusal(Exception):
    """A check failed: the message (in the CLI's words) and the exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


# --- the server's words → the CLI's ---------------------------------------------------------

_FLAGS = {
    "publish_at": "--at",
    "timezone": "--tz",
    "fold": "--fold",
    "targets": "--to",
    "text": "--caption",
    "media_id": "FILE",
}
# The API's field names in its messages, and the flags that set them. A name already
# behind a dash is a flag: left alone, so that translating twice changes nothing.
_WORDS = [
    (re.compile(r"`?(?<![-\w])overrides\.(\w+)\.(\w+)\b`?"), r"--override \1.\2"),
    (re.compile(r"`?(?<![-\w])overrides\.(\w+)\b`?"), r"--override \1.…"),
    (re.compile(r"`?(?<![-\w])publish_at\b`?"), "--at"),
    (re.compile(r"`?(?<![-\w])timezone\b`?"), "--tz"),
    (
        re.compile(r"\bSend `fold`: 0 for the first or 1 for the second"),
        "Pass --fold 0 for the first or --fold 1 for the second",
    ),
    (re.compile(r"`?(?<![-\w])fold\b`?"), "--fold"),
    (re.compile(r"(?<![-\w])media_id\b"), "FILE"),
]


def in_cli_terms(text: str) -> str:
    """A message of the API, its field names replaced by the flags that set them."""
    for pattern, flag in _WORDS:
        text = pattern.sub(flag, text)
    return text


_TARGET = re.compile(r"targets\[(\d+)\]")


def field_flag(path: str, to: Sequence[str] = ()) -> str:
    """The flag for an API field path (`overrides.youtube.title`, `publish_at`); the i-th
    target is the i-th --to, named with its value when `to` is given."""
    head, _, rest = path.partition(".")
    if head == "overrides" and rest:
        return f"--override {rest}"
    target = _TARGET.fullmatch(head)
    if target is not None:
        index = int(target.group(1))
        return f"--to {to[index]}" if index < len(to) else "--to"
    return _FLAGS.get(head, path)


def problem_lines(problem: dict[str, Any], to: Sequence[str] = ()) -> list[str]:
    """A problem+json answer as lines for the terminal, in the CLI's words: the detail,
    then each field error under the flag that set it (`to`: the --to values, in order)."""
    lines = [f"{in_cli_terms(str(problem.get('detail') or problem.get('title')))} "
             f"({problem.get('code', 'error')})"]  # fmt: skip
    for err in problem.get("errors") or []:
        if isinstance(err, dict) and err.get("field"):
            flag = field_flag(str(err["field"]), to)
            lines.append(f"  {flag}: {in_cli_terms(str(err['message']))}")
    return lines


# --- names ----------------------------------------------------------------------------------


def platform_names() -> list[str]:
    """The platforms crosspost publishes to, by name."""
    # Here, not at the top: the clients it loads cost every command a quarter of a second.
    from crosspost.platforms.registry import supported_platforms  # noqa: PLC0415

    return sorted(p.value for p in supported_platforms())


def check_targets(to: list[str]) -> list[Platform]:
    """The platforms the --to values name (account ids, acc_…, are left to the server);
    a name that is neither is refused with the nearest platform."""
    names = platform_names()
    found: list[Platform] = []
    for value in to:
        if value.startswith("acc_"):
            continue
        if value.lower() not in names:
            raise Refusal(f"--to {value}: unknown platform {value!r}" + did_you_mean(value, names))
        found.append(Platform(value.lower()))
    return found


def check_key(raw: str | None) -> None:
    """A crosspost key whose checksum is wrong was mistyped: refuse it before any upload
    (other credentials, such as OAuth access tokens, are the server's to judge)."""
    from crosspost.vault.apikeys import parse_key  # noqa: PLC0415

    if raw and raw.startswith("cp_") and parse_key(raw) is None:
        raise Refusal(
            "the API key is mistyped: its length or checksum is wrong (it starts "
            f"{raw[:8]}…); copy it again, or create one with `crosspost keys create`",
            ExitCode.AUTH,
        )


# --- time -------------------------------------------------------------------------------

_RELATIVE = re.compile(r"\+((?:\d+(?:\.\d+)?[smhd])+)")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def relative(value: str) -> timedelta | None:
    """`+2h`, `+90m`, `+1h30m`, `+1d` as a duration; None for anything else."""
    match = _RELATIVE.fullmatch(value.strip())
    if match is None:
        return None
    return timedelta(seconds=sum(float(n) * _UNIT[u] for n, u in _PART.findall(match.group(1))))


def check_time(at: str | None, tz: str | None, fold: int | None, now: datetime) -> dict[str, Any]:
    """The `publish_at`, `timezone` and `fold` of the body for --at, --tz and --fold, read
    with the server's rules (a time the zone skips or repeats, an offset the zone does not
    have, a time in the past); `--at +2h` is that long from now."""
    from crosspost.domain.models import PostCreate  # noqa: PLC0415
    from crosspost.engine.posts import resolve_publish_at  # noqa: PLC0415
    from crosspost.errors import CrosspostError  # noqa: PLC0415

    if at is None:
        if tz is not None or fold is not None:
            raise Refusal(f"{'--tz' if tz is not None else '--fold'} applies to --at; add --at")
        return {}
    ahead = relative(at)
    if ahead is None and at.strip().startswith("+"):
        raise Refusal(f"--at {at}: a time from now reads like +2h, +90m, +1h30m or +1d")
    body: dict[str, Any] = {
        "publish_at": (now + ahead).isoformat(timespec="seconds") if ahead else at,
        "timezone": tz,
        "fold": fold,
    }
    body = {k: v for k, v in body.items() if v is not None}
    try:
        post = PostCreate(targets=["-"], **body)
        resolve_publish_at(post, now)
    except ValidationError as err:
        first = err.errors()[0]
        name = field_flag(str(first["loc"][0])) if first["loc"] else "--at"
        raise Refusal(f"{name} {body.get(_api_name(name), '')}: {first['msg']}".strip()) from None
    except CrosspostError as err:
        prefix = "--tz: " if err.code == "invalid_timezone" else ""
        raise Refusal(prefix + in_cli_terms(err.detail)) from None
    return body


def _api_name(flag: str) -> str:
    return next((api for api, f in _FLAGS.items() if f == flag), flag)


# --- options ----------------------------------------------------------------------------

# --privacy VALUE → each platform's own option and value; a platform missing here, or a
# value missing for it, has no such setting (say so, rather than guess).
PRIVACY: dict[Platform, tuple[str, dict[str, str]]] = {
    Platform.YOUTUBE: (
        "privacy_status",
        {"public": "public", "unlisted": "unlisted", "private": "private"},
    ),
    Platform.TIKTOK: ("privacy_level", {"public": "PUBLIC_TO_EVERYONE", "private": "SELF_ONLY"}),
    Platform.SOUNDCLOUD: ("sharing", {"public": "public", "private": "private"}),
    Platform.LINKEDIN: ("visibility", {"public": "PUBLIC"}),
}
PRIVACY_VALUES = ("public", "unlisted", "private")


@dataclass
class Options:
    """The post's `overrides`, and which flag set each option (for messages)."""

    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    # Values of --override that read as JSON, kept as typed too: a string option given `22`.
    typed: dict[tuple[str, str], str] = field(default_factory=dict)

    def set(self, platform: str, option: str, value: Any, flag: str) -> None:
        """Set one option (a later flag overrides an earlier one)."""
        self.overrides.setdefault(platform, {})[option] = value
        self.origin[(platform, option)] = flag


def _model(platform: str) -> type[PlatformOptions]:
    from crosspost.platforms.registry import client_for  # noqa: PLC0415

    return client_for(Platform(platform)).options_model


def _settings(raw: str) -> dict[str, Any]:
    """--settings: JSON, or @file.json."""
    if raw.startswith("@"):
        try:
            raw = Path(raw[1:]).read_text()
        except OSError as err:
            raise Refusal(f"--settings {raw}: cannot read it ({err.strerror})") from None
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise Refusal(f"--settings: not JSON ({err})") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise Refusal(
            '--settings: give a JSON object of platforms, e.g. {"youtube": {"title": "Hi"}}'
        )
    return value


def _platform_of(name: str, flag: str) -> str:
    names = platform_names()
    if name.lower() not in names:
        raise Refusal(f"{flag}: unknown platform {name!r}" + did_you_mean(name, names))
    return name.lower()


def build_options(
    *,
    settings: str | None,
    title: str | None,
    privacy: str | None,
    overrides: list[str],
    platforms: list[Platform],
    only_platforms: bool,
) -> Options:
    """The overrides from --settings, then --title and --privacy, then each --override
    (the most specific last), checked against each platform's option model."""
    chosen = Options()
    if settings is not None:
        for name, options in _settings(settings).items():
            platform = _platform_of(name, f"--settings {name}")
            for option, value in options.items():
                chosen.set(platform, option, value, f"--settings {platform}.{option}")
    if title is not None:
        _spread(chosen, "--title", platforms, only_platforms, lambda p: _titled(p, title))
    if privacy is not None:
        _spread(chosen, "--privacy", platforms, only_platforms, lambda p: _private(p, privacy))
    for item in overrides:
        path, eq, value = item.partition("=")
        name, dot, option = path.partition(".")
        if not eq or not dot or not option:
            raise Refusal(f"--override {item}: write PLATFORM.OPTION=VALUE, e.g. youtube.title=Hi")
        platform = _platform_of(name, f"--override {path}")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        flag = f"--override {platform}.{option}"
        chosen.set(platform, option, parsed, flag)
        if not isinstance(parsed, str):
            chosen.typed[(platform, option)] = value
    _check(chosen)
    if only_platforms:
        spare = sorted(set(chosen.overrides) - {p.value for p in platforms})
        if spare:
            flag = next(f for (p, _), f in chosen.origin.items() if p == spare[0])
            raise Refusal(f"{flag}: {spare[0]} is not among --to; add --to {spare[0]} or drop it")
    return chosen


def _titled(platform: Platform, title: str) -> tuple[str, Any] | None:
    return ("title", title) if "title" in _model(platform.value).model_fields else None


def _private(platform: Platform, value: str) -> tuple[str, Any] | None:
    if value not in PRIVACY_VALUES:
        raise Refusal(f"--privacy {value}: use one of {', '.join(PRIVACY_VALUES)}")
    option, values = PRIVACY.get(platform, ("", {}))
    if not option:
        return None
    if value not in values:
        raise Refusal(
            f"--privacy {value}: {platform.value} has no {value} posts; choose its "
            f"{option} with --override {platform.value}.{option}=…"
        )
    return option, values[value]


def _spread(
    chosen: Options, flag: str, platforms: list[Platform], only_platforms: bool, pick: Any
) -> None:
    """Set a general option on every target platform that has it."""
    if not platforms:
        raise Refusal(f"{flag} needs --to platform names; with account ids use --override")
    taken = 0
    for platform in platforms:
        found = pick(platform)
        if found is not None:
            chosen.set(platform.value, found[0], found[1], flag)
            taken += 1
    if not taken and only_platforms:
        names = ", ".join(p.value for p in platforms)
        raise Refusal(f"{flag}: none of the targets ({names}) has such a setting")


def _check(chosen: Options) -> None:
    """Refuse an unknown option (naming the platform's) or a value of the wrong type."""
    for platform, raw in chosen.overrides.items():
        model = _model(platform)
        problems = model.problems(raw)
        retried = False
        for problem in problems:
            key = (platform, problem.option)
            # `--override youtube.category_id=22`: JSON read a number where text is wanted.
            if problem.code == "invalid_override" and key in chosen.typed:
                raw[problem.option] = chosen.typed.pop(key)
                retried = True
        if retried:
            problems = model.problems(raw)
        if not problems:
            continue
        problem = problems[0]
        flag = chosen.origin.get((platform, problem.option), f"--override {platform}")
        if problem.code == "unknown_override":
            hint = did_you_mean(problem.option, model.accepted())
            raise Refusal(
                f"{flag}: {platform} has no option {problem.option!r}{hint}"
                f" ({platform} takes: {', '.join(model.accepted())})"
            )
        raise Refusal(f"{flag}: {in_cli_terms(problem.message)}")


# --- the file ---------------------------------------------------------------------------


def check_file(file: Path | None, text: str, platforms: list[Platform], options: Options) -> None:
    """Probe the file here and hold it (and the text) to each target platform's limits: a
    refusal names the platform and what to change, before any upload."""
    from crosspost.engine.posts import target_violations  # noqa: PLC0415
    from crosspost.errors import CrosspostError  # noqa: PLC0415
    from crosspost.media.probe import probe  # noqa: PLC0415
    from crosspost.media.validate import MediaInfo  # noqa: PLC0415

    if file is None and not text.strip():
        raise Refusal("nothing to publish: give a FILE, a --caption, or both")
    info = None
    if file is not None:
        try:
            info = MediaInfo.from_probe(probe(file), file.stat().st_size)
        except CrosspostError as err:
            raise Refusal(f"{file}: {err.detail} ({err.code})", ExitCode.ERROR) from None
    refused = []
    for platform in platforms:
        raw = options.overrides.get(platform.value) or {}
        chosen = _model(platform.value).read(raw) if raw else None
        for violation in target_violations(platform, chosen, info, text):
            refused.append(f"{platform.value}: {in_cli_terms(violation.message)}")
    if refused:
        raise Refusal(
            "\n".join(refused) + "\nnothing was uploaded; fix the file or the text, or drop "
            "those --to",
            ExitCode.ERROR,
        )


def now_utc() -> datetime:
    """Now, in UTC (the one clock of these checks)."""
    return datetime.now(UTC)
