"""`crosspost brand-kits create|list|show|rm` against a running stack over HTTP: options
become the kit's settings, --json and -q print the kit and its id, refusals exit 1 with the
API's reason, contradictory flags exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crosspost.cli import app
from crosspost.media.samples import make_image
from tests.e2e.conftest import Stack, fakes, make_stack, media_store  # noqa: F401 - fixtures


@pytest.fixture
def cli(
    make_stack: Callable[..., Stack],  # noqa: F811 - the imported fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Stack, Callable[..., Result]]:
    """A stack without workers, and `crosspost brand-kits …` run against it with its key."""
    stack = make_stack(workers=0)
    for name in ("CROSSPOST_PROFILE", "CROSSPOST_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["brand-kits", *args], env={"COLUMNS": "200"})

    return stack, run


def test_create_list_show_and_rm(cli: tuple[Stack, Callable[..., Result]], tmp_path: Path) -> None:
    """Every option lands in the kit; list and show find it; rm deletes it."""
    stack, run = cli
    logo = make_image(tmp_path / "logo.png", 64, 64)
    headers = {"Content-Type": "image/png", "X-Filename": "logo.png"}
    upload = stack.http.post("/v1/media", content=logo.read_bytes(), headers=headers)
    assert upload.status_code == 201, upload.text
    logo_id = upload.json()["id"]
    made = run(
        "create", "--name", "Acme", "--logo", logo_id, "--logo-position", "bottom-right",
        "--logo-scale", "0.25", "--background", "#111", "--caption-color", "#FF0",
        "--caption-max-lines", "1", "--no-highlight", "--aspect", "1:1", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    kit = json.loads(made.stdout)
    assert kit["logo_media_id"] == logo_id and kit["default_aspect"] == "1:1"
    assert kit["logo"]["position"] == "bottom-right" and kit["logo"]["scale"] == 0.25
    assert kit["logo"]["opacity"] == 0.85  # not given: the default
    assert kit["colors"]["background"] == "#111111"
    style = kit["caption_style"]
    assert (style["color"], style["max_lines"], style["highlight_color"]) == ("#ffff00", 1, None)
    assert stack.http.get(f"/v1/brand-kits/{kit['id']}").json() == kit

    plain = run("create", "--name", "Plain", "-q")
    assert plain.exit_code == 0, plain.output
    plain_id = plain.stdout.strip()
    assert plain_id.startswith("bk_")
    assert run("list", "-q").stdout.split() == [plain_id, kit["id"]]
    assert [k["name"] for k in json.loads(run("list", "--json").stdout)] == ["Plain", "Acme"]
    table = run("list")
    assert table.exit_code == 0 and kit["id"] in table.stdout and logo_id in table.stdout
    assert json.loads(run("show", kit["id"], "--json").stdout) == kit
    shown = run("show", kit["id"])
    assert "logo: position=bottom-right, scale=0.25" in shown.stdout, shown.stdout
    assert "highlight_color=-" in shown.stdout

    removed = run("rm", plain_id, "--json")
    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.stdout) == {"deleted": [plain_id]}
    gone = run("show", plain_id)
    assert gone.exit_code == 1 and "brand_kit_not_found" in gone.stderr


def test_refusals_exit_with_the_reason(cli: tuple[Stack, Callable[..., Result]]) -> None:
    """A value the API refuses exits 1 naming the field; --highlight with --no-highlight is
    a usage error (2); a missing --name too; nothing is created."""
    stack, run = cli
    bad = run("create", "--name", "x", "--logo-scale", "0.9")
    assert bad.exit_code == 1 and "logo.scale" in bad.stderr, bad.output
    missing = run("create", "--name", "x", "--intro", "med_nope")
    assert missing.exit_code == 1 and "media_not_found" in missing.stderr, missing.output
    both = run("create", "--name", "x", "--highlight", "#fff", "--no-highlight")
    assert both.exit_code == 2 and "exclude each other" in both.stderr
    assert run("create").exit_code == 2
    assert stack.http.get("/v1/brand-kits").json()["data"] == []
