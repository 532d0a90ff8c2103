"""The Python SDK's generated models and resources match the API as the code stands: an
endpoint added or changed without regenerating (python sdks/python/codegen.py) fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crosspost.api.document import openapi_document
from crosspost.api.sdk_names import METHODS, name_operations

CODEGEN = Path(__file__).resolve().parents[2] / "sdks" / "python" / "codegen.py"


def test_the_generated_sdk_files_are_current() -> None:
    """codegen --check regenerates from the server's document and compares."""
    done = subprocess.run(
        [sys.executable, str(CODEGEN), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_names_a_stale_file(tmp_path: Path) -> None:
    """A document with one more operation makes the check fail, naming the file."""
    document = subprocess.run(
        [sys.executable, "-m", "crosspost", "openapi"], capture_output=True, text=True, check=True
    ).stdout
    changed = tmp_path / "openapi.json"
    changed.write_text(
        document.replace('"/healthz": {', '"/v1/pings": {"get": {"x-sdk-name": "pings.get", '
                         '"responses": {"204": {"description": "pong"}}}}, "/healthz": {', 1),
        encoding="utf-8",
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(CODEGEN), "--check", "--openapi", str(changed)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "_resources.py is stale" in done.stdout


def test_every_operation_is_named_once_and_a_clash_is_refused() -> None:
    """The document names each operation for the SDKs; two of one name stop the build."""
    document = openapi_document()
    names = [
        operation["x-sdk-name"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(names) == len(set(names)) > 150
    twice = {"paths": {"/v1/things": {"get": {}}, "/v1/things/": {"get": {}}}}
    with pytest.raises(RuntimeError, match=r"are both things\.list"):
        name_operations(twice)
    shadow = {"paths": {"/v1/a/{id}/b": {"post": {}}, "/v1/a/{id}/b/c": {"post": {}}}}
    with pytest.raises(RuntimeError, match="both a method and a group"):
        name_operations(shadow)
