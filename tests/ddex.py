"""DDEX's ERN 4.3 schema for the tests that validate what crosspost writes: found beside
the checkout (../shared/reference/ddex), where this workplace keeps it, or where
CROSSPOST_DDEX_SCHEMA_DIR says; never copied into the project (its licence)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
import xmlschema

_ROOT = Path(__file__).parents[1]
_PLACES = [
    *(Path(p) for p in [os.environ.get("CROSSPOST_DDEX_SCHEMA_DIR")] if p),
    _ROOT.parent / "shared" / "reference" / "ddex",
    Path("/work/shared/reference/ddex"),
]
SCHEMA = next(
    (place / "release-notification.xsd" for place in _PLACES if place.is_dir()),
    _PLACES[-1] / "release-notification.xsd",
)


def require_schema() -> Path:
    """The schema's path; the calling test is skipped, saying how to fix it, without it."""
    if not SCHEMA.is_file():
        pytest.skip(
            f"DDEX's ERN 4.3 schema is not at {SCHEMA}: set CROSSPOST_DDEX_SCHEMA_DIR to the "
            "folder holding release-notification.xsd"
        )
    return SCHEMA


@functools.cache
def _load(path: Path) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(path))  # about 1.5 s: once per test process


def ern_schema() -> xmlschema.XMLSchema:
    """The loaded schema (once per process), or the test skipped."""
    return _load(require_schema())
