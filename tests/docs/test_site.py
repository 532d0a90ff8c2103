"""The documentation site builds in MkDocs' strict mode: a broken link, a page missing from
the nav, or a generated reference page that fails fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly_with_every_generated_page(tmp_path: Path) -> None:
    """mkdocs build --strict; the reference and platform pages exist and hold what the code
    has (an error code, a CLI command, an endpoint)."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    errors = (site / "reference" / "errors" / "index.html").read_text(encoding="utf-8")
    assert 'id="invalid_api_key"' in errors and 'id="validation_error"' in errors
    assert "crosspost openapi" in (site / "reference" / "cli" / "index.html").read_text()
    assert "posts.targets.retry" in (site / "reference" / "api" / "index.html").read_text()
    for platform in ("youtube", "instagram", "tiktok", "x", "linkedin", "soundcloud"):
        assert (site / "platforms" / platform / "index.html").is_file(), platform
