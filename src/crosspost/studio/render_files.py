"""The files a render job handles: a source lent as a local path, a scratch output of the
run's own, and that output streamed into the media store under its fixed key."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from crosspost.engine.services import Services
from crosspost.media.storage import StoredObject, store_file
from crosspost.studio.render_spec import RenderError

# Under the media directory, with a leading dot: never a storage key.
_SCRATCH = ".renders"


def local_source(svc: Services, key: str, what: str) -> AbstractContextManager[Path]:
    """`storage.local_file(key)`, a missing object refused as a RenderError naming `what`."""
    try:
        svc.storage.size(key)
    except FileNotFoundError:
        raise RenderError(
            f"{what} is no longer stored; upload it again", code="source_missing"
        ) from None
    return svc.storage.local_file(key)


def scratch(svc: Services, name: str, attempt: int) -> Path:
    """This run's output file; files an earlier run of the same `name` left go first."""
    folder = svc.settings.resolved_media_dir / _SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    for left in folder.glob(f"{name}.*"):
        left.unlink(missing_ok=True)
    return folder / f"{name}.{attempt}.mp4"


def store_output(svc: Services, path: Path, key: str) -> StoredObject:
    """Stream `path` to `key`, replacing what an earlier run (dead or not) left there."""
    return store_file(svc.storage, path, key)
