"""`crosspost releases …` and `crosspost distribute` against a running stack and the
sandbox's fake distributor: a release made from local masters goes live in every store and is
taken down; a refused release names each field; a failed distribution exits 10 with its
error and a retry takes it live."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crosspost.cli import app
from tests.e2e.conftest import Stack, fakes, make_stack, media_store  # noqa: F401 - fixtures
from tests.e2e.music import UPC, jpeg, upload, wav

STORES = {"spotify", "apple_music", "youtube_music", "amazon_music", "deezer"}
Run = Callable[..., Result]


@pytest.fixture
def cli(
    make_stack: Callable[..., Stack],  # noqa: F811 - the imported fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Stack, Run]:
    """A stack reading the distributor's reports every tenth of a second, and `crosspost …`
    run against it with its key."""
    stack = make_stack(distribution_poll_seconds=0.1)
    for name in ("CROSSPOST_PROFILE", "CROSSPOST_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    return stack, run


def _metadata(upc: str = UPC) -> list[str]:
    return [
        "--type", "single", "--artist", "The Examples", "--artist", "Guest:featured",
        "--label", "Example Records", "--upc", upc, "--genre", "Electronic",
        "--sub-genre", "Ambient", "--language", "en", "--p-line", "2026 Example Records",
        "--c-line", "© 2026 Example Records",
    ]  # fmt: skip


def test_a_release_from_local_files_goes_live_and_is_taken_down(
    cli: tuple[Stack, Run], tmp_path: Path
) -> None:
    """Two WAV masters and a JPEG are uploaded, the release made and shown; `distribute`
    waits until live and prints every store with its URL; it cannot be deleted while live;
    `takedown` ends taken_down in every store, after which `delete` deletes it."""
    stack, run = cli
    (tmp_path / "one.wav").write_bytes(wav())
    (tmp_path / "two.wav").write_bytes(wav(2.5, rate=48_000, bits=24))
    (tmp_path / "cover.jpg").write_bytes(jpeg())
    made = run(
        "releases", "create", "First Light", *_metadata(), "--artwork", str(tmp_path / "cover.jpg"),
        "--track", f"{tmp_path / 'one.wav'}|Song 1|USS1Z2600001",
        "--track", f"{tmp_path / 'two.wav'}|Song 2|US-S1Z-26-00002|explicit", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    release = json.loads(made.stdout)
    assert release["artists"] == [{"name": "The Examples", "role": "main"},
                                  {"name": "Guest", "role": "featured"}]  # fmt: skip
    assert [(t["title"], t["isrc"], t["explicit"]) for t in release["tracks"]] == [
        ("Song 1", "USS1Z2600001", False),
        ("Song 2", "USS1Z2600002", True),
    ]
    assert all(t["media_id"].startswith("med_") for t in release["tracks"])
    assert release["artwork_media_id"].startswith("med_")
    assert release["c_line"] == "© 2026 Example Records"
    assert release["territories"] == ["Worldwide"]
    assert run("releases", "list", "-q").stdout.split() == [release["id"]]

    shown = run("releases", "show", release["id"])
    assert shown.exit_code == 0, shown.output
    for expected in ("USS1Z2600001", "16-bit/44.1 kHz", "24-bit/48 kHz", "0:02",
                     "Guest (featured)", "not distributed"):  # fmt: skip
        assert expected in shown.stdout, shown.stdout

    sent = run("distribute", release["id"], "--to", "ddex")
    assert sent.exit_code == 0, sent.output
    [done] = stack.http.get(f"/v1/releases/{release['id']}/distributions").json()["data"]
    assert done["status"] == "live" and {s["store"] for s in done["stores"]} == STORES
    assert f"distribution {done['id']} on ddex: live" in sent.stdout, sent.stdout
    for store in done["stores"]:
        assert store["url"].startswith("https://")
        line = next(x for x in sent.stdout.splitlines() if x.startswith(store["store"] + " "))
        assert "live" in line and f"{store['url']} (sandbox)" in line, sent.stdout
    assert "→ live" in sent.stderr, sent.stderr

    busy = run("releases", "delete", release["id"])
    assert busy.exit_code == 1 and "release_distributed" in busy.stderr, busy.output
    down = run("releases", "takedown", done["id"], "--json")
    assert down.exit_code == 0, down.output
    [ended] = json.loads(down.stdout)
    assert (ended["status"], ended["action"]) == ("taken_down", "takedown")
    assert {s["status"] for s in ended["stores"]} == {"taken_down"}
    after = json.loads(run("releases", "show", release["id"], "--json").stdout)
    assert [d["status"] for d in after["distributions"]] == ["taken_down"]

    gone = run("releases", "delete", release["id"], "-q")
    assert gone.exit_code == 0 and gone.stdout.split() == [release["id"]], gone.output
    missing = run("releases", "show", release["id"])
    assert missing.exit_code == 1 and "release_not_found" in missing.stderr


def test_a_refused_release_names_each_field(cli: tuple[Stack, Run], tmp_path: Path) -> None:
    """A bad UPC check digit and a malformed ISRC: exit 1, each problem with its field and
    flag, nothing made; a UPC the API's model refuses is refused before the upload; a
    malformed --track, a master of the wrong kind and an unknown channel are usage errors
    (2) before anything is uploaded."""
    stack, run = cli
    master = upload(stack, wav(), "audio/wav", "one.wav")
    bad = run("releases", "create", "Bad", *_metadata(upc="036000291453"),
              "--track", f"{master}|Song|1234567890AB")  # fmt: skip
    assert bad.exit_code == 1, bad.output
    assert "422" in bad.stderr and "2 problem(s)" in bad.stderr, bad.stderr
    assert "upc (--upc): " in bad.stderr and "tracks[0].isrc (--track #1): " in bad.stderr
    assert stack.http.get("/v1/releases").json()["data"] == []

    (tmp_path / "cover.jpg").write_bytes(jpeg(16))
    (tmp_path / "one.wav").write_bytes(wav(0.1))
    short = run("releases", "create", "Bad", *_metadata(upc="12"),
                "--track", f"{tmp_path / 'one.wav'}|Song|USS1Z2600001")  # fmt: skip
    assert short.exit_code == 1 and "upc (--upc): " in short.stderr, short.output
    assert "nothing was uploaded" in short.stderr
    for args, said in [
        (["--track", f"{master}|Song"], "FILE_OR_MEDIA_ID|TITLE|ISRC"),
        (["--track", f"{tmp_path / 'cover.jpg'}|Song|USS1Z2600001"], "WAV or FLAC"),
        (["--track", "nowhere.wav|Song|USS1Z2600001"], "no such file"),
    ]:
        refused = run("releases", "create", "Bad", *_metadata(), *args)
        assert refused.exit_code == 2 and said in refused.stderr, refused.output
    assert len(stack.http.get("/v1/media").json()["data"]) == 1
    unknown = run("distribute", "rel_nope", "--to", "myspace")
    assert unknown.exit_code == 2 and "unknown channel" in unknown.stderr, unknown.output


def test_a_failed_distribution_exits_10_and_a_retry_takes_it_live(cli: tuple[Stack, Run]) -> None:
    """The distributor rejects the batch: `distribute` exits 10 printing the error; `retry`
    sends it again and ends live."""
    stack, run = cli
    master = upload(stack, wav(), "audio/wav", "one.wav")
    art = upload(stack, jpeg(), "image/jpeg", "cover.jpg")
    made = run("releases", "create", "Again", *_metadata(), "--artwork", art,
               "--track", f"{master}|Song|USS1Z2600009", "-q")  # fmt: skip
    assert made.exit_code == 0, made.output
    release_id = made.stdout.strip()
    rejection = {"code": "ArtworkTooSmall", "text": "cover is 2999 px"}
    stack.fake("distributor", "faults", json={"reject_next": rejection})
    failed = run("distribute", release_id, "--to", "ddex", "-q")
    assert failed.exit_code == 10, failed.output
    [distribution_id] = failed.stdout.split()
    assert "ArtworkTooSmall" in failed.stderr and "distributor_rejected" in failed.stderr
    assert f"crosspost releases retry {distribution_id}" in failed.stderr

    retried = run("releases", "retry", distribution_id)
    assert retried.exit_code == 0, retried.output
    assert f"distribution {distribution_id} on ddex: live, " in retried.stdout
    assert "attempt 2" in retried.stdout and "spotify" in retried.stdout


def test_a_release_with_generated_art_goes_to_the_stores_and_to_a_soundcloud_set(
    cli: tuple[Stack, Run], tmp_path: Path
) -> None:
    """Issue 19's sandbox path: `releases create` from masters, `releases artwork` draws
    and accepts a cover, `distribute --to ddex --to soundcloud` takes it live on every
    store of the fake distributor and as one SoundCloud set in track order."""
    stack, run = cli
    (tmp_path / "one.wav").write_bytes(wav())
    (tmp_path / "two.wav").write_bytes(wav(2.5, rate=48_000, bits=24))
    made = run(
        "releases", "create", "First Light", *_metadata(),
        "--track", f"{tmp_path / 'one.wav'}|Song 1|USS1Z2600001",
        "--track", f"{tmp_path / 'two.wav'}|Song 2|USS1Z2600002", "-q",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    release_id = made.stdout.strip()
    art = run("releases", "artwork", release_id, "--style", "grain", "--seed", "3", "--json")
    assert art.exit_code == 0, art.output
    cover = json.loads(art.stdout)
    assert (cover["width"], cover["accepted"]) == (3000, True)
    shown = stack.http.get(f"/v1/releases/{release_id}").json()
    assert shown["artwork_media_id"] == cover["media_id"]
    sent = run("distribute", release_id, "--to", "ddex", "--to", "soundcloud")
    assert sent.exit_code == 0, sent.output
    found = stack.http.get(f"/v1/releases/{release_id}/distributions").json()["data"]
    assert {(d["channel"], d["status"]) for d in found} == {
        ("ddex", "live"),
        ("soundcloud", "live"),
    }
    ddex = next(d for d in found if d["channel"] == "ddex")
    assert {s["store"] for s in ddex["stores"]} == STORES
    [made_set] = stack.fake("soundcloud", "state")["playlists"]
    titles = {t["id"]: t["title"] for t in stack.fake("soundcloud", "state")["posts"]}
    assert [titles[i] for i in made_set["track_ids"]] == ["Song 1", "Song 2"]
    refused = run("releases", "artwork", release_id, "--style", "cubism")
    assert refused.exit_code != 0
