"""`crosspost upload FILE`: a direct upload through the API. Ask for an upload URL, PUT the
file straight to media storage, complete it into a media item; prints the media id."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, api, examples, out
from crosspost.cli._common import plain as plain_json

app = App()
_PIECE = 1024 * 1024
_COMPLETE_SECONDS = 1800.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_PIECE):
            digest.update(block)
    return digest.hexdigest()


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(_PIECE):
            yield block


def _checked(response: Any) -> dict[str, Any]:
    """The JSON of a 2xx answer; an SDK ApiError (one clear line, exit 1) otherwise."""
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415 - keep `--help` fast

    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:  # an object store answers XML
            problem = {"detail": response.text[:300] or response.reason_phrase}
        raise ApiError(response.status_code, problem, response.headers)
    return dict(response.json()) if response.content else {}


@app.command(
    "upload",
    epilog=examples(
        "crosspost upload clip.mp4",
        "crosspost upload take3.mov --name launch.mov --json",
    ),
)
def upload(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", exists=True, dir_okay=False, readable=True, help="The file to upload."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(help="The name the media item keeps (default: the file's).", metavar="NAME"),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="Its media type (default: guessed from the name).", metavar="TYPE"
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file straight to media storage (the API never relays its bytes when the
    store is S3) and make it a media item; prints the media item's id."""
    filename = name or path.name
    kind = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    size = path.stat().st_size
    out().note(f"hashing {path} ({size} bytes)")
    asked = {"filename": filename, "content_type": kind, "size": size, "sha256": _sha256(path)}
    import httpx  # noqa: PLC0415 - keep `--help` fast

    with api(api_url, key) as client:
        # One key for the creation: a retried request answers the same upload.
        made = plain_json(client.uploads.create(asked, idempotency_key=str(uuid.uuid4())))
        out().note(f"upload {made['id']}: sending {size} bytes")
        # The URL is its own permission: no API key goes to the store.
        with httpx.Client(timeout=httpx.Timeout(60.0)) as plain:
            _checked(plain.put(made["upload_url"], content=_pieces(path), headers=made["headers"]))
        # Completing reads the whole file once (hash and probe): give a large one time.
        done = plain_json(client.uploads.complete(made["id"], timeout=_COMPLETE_SECONDS))
    media_id = done["media_id"]
    out().note(f"media {media_id} ready ({filename})")
    out().result(done, ids=[media_id], human=lambda: out().line(media_id))
