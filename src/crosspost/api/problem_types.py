"""What each problem `code` means: the catalogue docs/problem_codes.py writes from the source
(problem_catalogue.json), read once. A problem's `type` links to its entry."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

_CATALOGUE = Path(__file__).resolve().parent / "problem_catalogue.json"
# Relative, so it resolves against whichever server answered: its /docs/errors page.
TYPE_BASE = "/docs/errors#"


def anchor(code: str) -> str:
    """The code's id on the errors page (a family such as `upload_…` included)."""
    return re.sub(r"[^a-z0-9_]+", "-", code.lower()).strip("-")


@functools.cache
def catalogue() -> list[dict[str, Any]]:
    """Every code crosspost's source names, in order, with its statuses and causes."""
    entries: list[dict[str, Any]] = json.loads(_CATALOGUE.read_text(encoding="utf-8"))
    return entries
