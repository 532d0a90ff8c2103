"""The OpenAPI document without a running server: what the SDKs are generated from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from crosspost.api.app import create_app
from crosspost.config import Settings
from crosspost.engine.services import Services


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, built over a throwaway home (the document depends on the
    code alone, never on a deployment's settings or data)."""
    with tempfile.TemporaryDirectory(prefix="crosspost-openapi-") as home:
        settings = Settings(
            home=Path(home),
            database_url=f"sqlite:///{home}/crosspost.db",
            _env_file=None,
        )
        svc = Services.build(settings)
        try:
            return create_app(svc).openapi()
        finally:
            svc.close()
