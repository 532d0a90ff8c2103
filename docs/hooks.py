"""MkDocs hooks: the reference pages are made from the code as the site is built, so none of
them can fall behind it: every error code, every CLI command, every endpoint, and what each
platform takes."""

from __future__ import annotations

from typing import Any

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from crosspost.api.document import openapi_document
from crosspost.api.problem_types import anchor, catalogue
from crosspost.cli import app as cli_app
from crosspost.domain.enums import MediaKind
from crosspost.platforms.registry import client_for, supported_platforms

_KINDS = {None: "Text only", MediaKind.VIDEO: "Video", MediaKind.IMAGE: "Image",
          MediaKind.AUDIO: "Audio"}  # fmt: skip


def errors_page() -> str:
    """Every code, its statuses, and what its messages say."""
    lines = [
        "# Error codes",
        "",
        "Every refusal is `application/problem+json` (RFC 9457) with a stable `code`, a `detail`",
        "that says what to change, and a `type` that links to the code's entry here (and on",
        "any running crosspost, at `/docs/errors`). This page is generated from the source:",
        "every code the server can answer with is on it.",
        "",
        "Codes marked *named in an error member* are not answers of their own: they appear in",
        "a target's or a job's `error`, or in the `errors` list of a 422.",
        "",
    ]
    for entry in catalogue():
        status = ", ".join(str(s) for s in entry["statuses"]) or "—"
        title = f" · {entry['title']}" if entry["title"] else ""
        kind = "" if entry["problem"] else " · *named in an error member*"
        lines += [f"## `{entry['code']}` {{ #{anchor(entry['code'])} }}", "",
                  f"HTTP {status}{title}{kind}", ""]  # fmt: skip
        lines += [f"- {cause}" for cause in entry["causes"]] or ["- (no message of its own)"]
        lines.append("")
    return "\n".join(lines)


def _command_lines(command: Any, path: str, depth: int) -> list[str]:
    # Duck-typed: typer may carry a click of its own, whose classes are not `click`'s.
    lines = [f"{'#' * depth} `{path}`", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    rows = []
    for param in command.params:
        if param.name in {"help"} or getattr(param, "hidden", False):
            continue
        names = ", ".join(f"`{o}`" for o in getattr(param, "opts", [])) or f"`{param.name}`"
        helptext = (getattr(param, "help", None) or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {names} | {helptext} |")
    if rows:
        lines += ["| Option | What it does |", "|---|---|", *rows, ""]
    if command.epilog:
        lines += ["```text", command.epilog.strip().replace("\b\n", ""), "```", ""]
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            lines += _command_lines(command.commands[name], f"{path} {name}", min(depth + 1, 4))
    return lines


def cli_page() -> str:
    """Every command and option of `crosspost`, from the CLI itself."""
    root = typer.main.get_command(cli_app)
    return "\n".join([
        "# CLI reference",
        "",
        "Generated from the `crosspost` command itself; `crosspost COMMAND --help` says the same.",
        "",
        *_command_lines(root, "crosspost", 2),
    ])  # fmt: skip


def api_page() -> str:
    """Every endpoint, by group, with its SDK method."""
    document = openapi_document()
    lines = [
        "# API reference",
        "",
        "Every endpoint, generated from the OpenAPI document. A running crosspost serves the",
        "interactive reference at `/docs` and the document at `/openapi.json`; the SDK method",
        "is the same in Python (`client.posts.targets.retry`) and TypeScript",
        "(`client.posts.targets.retry`, camelCase).",
        "",
        "| Method | Path | SDK | What it does |",
        "|---|---|---|---|",
    ]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "x-sdk-name" not in operation:
                continue
            summary = operation.get("description") or operation.get("summary") or ""
            first = summary.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
            lines.append(f"| {method.upper()} | `{path}` | `{operation['x-sdk-name']}` | {first} |")
    return "\n".join(lines) + "\n"


def _limits_rows(limits: Any) -> list[str]:
    if limits.refusal:
        return [f"| Refused | {limits.refusal} |"]
    shown = {
        "containers": "Containers",
        "video_codecs": "Video codecs",
        "audio_codecs": "Audio codecs",
        "min_duration_seconds": "Shortest (s)",
        "max_duration_seconds": "Longest (s)",
        "max_bytes": "Largest (bytes)",
        "min_aspect": "Narrowest (w/h)",
        "max_aspect": "Widest (w/h)",
        "max_fps": "Frame rate at most",
        "min_side": "Shortest side (px)",
        "max_side": "Longest side (px)",
        "caption_max_chars": "Caption (characters)",
        "caption_max_bytes": "Caption (bytes)",
        "title_max_chars": "Title (characters)",
        "max_hashtags": "Hashtags at most",
    }
    rows = []
    for field_name, label in shown.items():
        value = getattr(limits, field_name)
        if value is None:
            continue
        if isinstance(value, frozenset):
            value = ", ".join(sorted(value))
        elif isinstance(value, float):
            value = f"{value:g}"
        elif isinstance(value, int) and value > 10_000:
            value = f"{value:,}"
        rows.append(f"| {label} | {value} |")
    return rows


def platform_page(platform: Any) -> str:
    """What crosspost sends to one platform, its limits, its options, and what can fail."""
    client = client_for(platform)
    name = platform.value
    lines = [f"# {name}", "", f'Target `"{name}"` in a post\'s `targets`.', ""]
    for kind, limits in client.post_types.items():
        lines += [f"## {_KINDS.get(kind, str(kind))}", "", "| Limit | Value |", "|---|---|",
                  *(_limits_rows(limits) or ["| — | none documented |"]), ""]  # fmt: skip
    schema = client.options_model.model_json_schema()
    fields = schema.get("properties", {})
    lines += [f"## Options (`overrides.{name}`)", ""]
    if fields:
        lines += ["| Option | Type | What it does |", "|---|---|---|"]
        for field_name, spec in fields.items():
            shape = spec.get("type") or " or ".join(
                s.get("type", "object") for s in spec.get("anyOf", [])
            )
            text = (spec.get("description") or "").replace("\n", " ").replace("|", "\\|")
            lines.append(f"| `{field_name}` | {shape} | {text} |")
    else:
        lines.append("None.")
    lines += ["", "## Connecting", ""]
    scopes = ", ".join(f"`{s}`" for s in client.oauth_scopes) or "none"
    lines += [f"OAuth scopes asked for: {scopes}. Connect with `POST /v1/accounts/connect` "
              f"(`crosspost accounts connect {name}`).", ""]  # fmt: skip
    if client.delete_refusal:
        lines += ["## Deleting", "", client.delete_refusal, ""]
    lines += [
        "## What can fail, and what to do",
        "",
        "- A post that breaks a limit above is refused before anything is sent: `422` with each",
        "  broken rule in `errors` (check first with `POST /v1/posts/validate`).",
        "- The platform refusing the upload fails the target with its reason in `error`;",
        "  `POST /v1/posts/{id}/targets/{target_id}/retry` tries it again once fixed.",
        "- A revoked or expired connection parks the target as `needs_reauth`: reconnect the",
        "  account, then retry. A spent platform quota waits for its reset, then resumes.",
        "- Every code, with its cause: [error codes](../reference/errors.md).",
        "",
    ]
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site."""
    pages = {
        "reference/errors.md": errors_page(),
        "reference/cli.md": cli_page(),
        "reference/api.md": api_page(),
    }
    for platform in sorted(supported_platforms(), key=lambda p: p.value):
        pages[f"platforms/{platform.value}.md"] = platform_page(platform)
    for path, content in pages.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """The platform pages into the nav, in the order the registry gives."""
    for section in config.nav or []:
        if isinstance(section, dict) and "Platforms" in section:
            section["Platforms"] = [
                {p.value: f"platforms/{p.value}.md"}
                for p in sorted(supported_platforms(), key=lambda p: p.value)
            ]
    return config


__all__ = ["on_config", "on_files"]
