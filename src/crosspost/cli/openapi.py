"""`crosspost openapi`: print the API's OpenAPI document (what the SDKs are generated from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crosspost.cli._common import App, examples

app = App()


@app.command(
    epilog=examples(
        "crosspost openapi > openapi.json",
        "crosspost openapi --output sdks/python/openapi.json",
    )
)
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the API's OpenAPI 3.1 document, exactly as `GET /openapi.json` serves it, without
    starting a server."""
    from crosspost.api.document import openapi_document  # noqa: PLC0415 - keep `--help` fast

    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
