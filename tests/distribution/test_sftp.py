"""DDEX delivery over real loopback SFTP to the fake distributor: a batch arrives whole, is
acknowledged and goes live in every store; a dropped upload resumes where it stopped; wrong
credentials, host keys and ports fail with stable codes."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest
from PIL import Image

from crosspost.distribution.ern import (
    ErnArtist,
    ErnImage,
    ErnRelease,
    ErnTrack,
    Party,
    new_release_message,
    takedown_message,
)
from crosspost.distribution.sftp import (
    BatchFile,
    DeliveryError,
    SftpTarget,
    deliver_batch,
    read_acknowledgements,
    read_status_reports,
)
from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.distributor import DEFAULT_STORES, BatchRecord, FakeDistributor
from crosspost.fakes.server import serve_in_thread

SENDER = Party("PADPIDA2014120301H", "Crosspost Distribution")
RECIPIENT = Party("PADPIDA2011072101T", "A Store")
CREATED = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
AUDIO_SIZES = (150_000, 90_000)


class ManualClock:
    """The fake's clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.now += seconds


def md5(path: Path) -> str:
    """The file's MD5, hex."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def cover_bytes() -> bytes:
    """A 3000x3000 RGB JPEG, made once."""
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 3000), (200, 40, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def files(tmp_path: Path, cover_bytes: bytes) -> list[BatchFile]:
    """Two masters (random bytes named .flac) and the cover, with their sizes and MD5s."""
    paths = []
    for number, size in enumerate(AUDIO_SIZES, start=1):
        path = tmp_path / f"A{number}.flac"
        path.write_bytes(os.urandom(size))
        paths.append((path, f"resources/A{number}.flac"))
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(cover_bytes)
    paths.append((cover, "resources/cover.jpg"))
    return [BatchFile(path, name, path.stat().st_size, md5(path)) for path, name in paths]


def release(files: list[BatchFile]) -> ErnRelease:
    """A two-track single whose tracks and cover are `files` (audio, audio, cover)."""
    tracks = [
        ErnTrack(
            isrc=f"USRC1760{number:04d}",
            title=f"Track {number}",
            artists=[ErnArtist("Nadia Vale")],
            duration_seconds=201,
            language="en",
            file_name=file.remote_name,
            md5=file.md5,
            size_bytes=file.size,
            audio_codec="FLAC",
            bit_depth=24,
            sample_rate=48_000,
            channels=2,
            p_line_year=2026,
            p_line_owner="Northbound Records",
        )
        for number, file in enumerate(files[:2], start=1)
    ]
    cover = files[2]
    return ErnRelease(
        upc="036000291452",
        title="Low Tide",
        release_type="single",
        artists=[ErnArtist("Nadia Vale")],
        label="Northbound Records",
        genre="Electronic",
        language="en",
        p_line=(2026, "Northbound Records"),
        c_line=(2026, "Northbound Records"),
        release_date=date(2026, 3, 6),
        tracks=tracks,
        image=ErnImage(
            file_name=cover.remote_name,
            md5=cover.md5,
            size_bytes=cover.size,
            width=3000,
            height=3000,
            image_codec="JPEG",
        ),
    )


def message(subject: ErnRelease, message_id: str = "MSG-1", **options: Any) -> bytes:
    """A NewReleaseMessage for `subject` (options: update=True)."""
    return new_release_message(
        subject,
        sender=SENDER,
        recipient=RECIPIENT,
        message_id=message_id,
        thread_id="THREAD-1",
        created_at=CREATED,
        **options,
    )


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeDistributor]]:
    """Factory: a started fake distributor of its own, stopped after the test."""
    started: list[FakeDistributor] = []

    def make(**options: Any) -> FakeDistributor:
        options.setdefault("processing_seconds", 0.05)
        options.setdefault("live_seconds", 0.05)
        started.append(FakeDistributor(**options).start())
        return started[-1]

    yield make
    for fake in started:
        fake.stop()


def target(fake: FakeDistributor, **changes: Any) -> SftpTarget:
    """The fake as an SFTP target, its host key pinned."""
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": fake.port,
        "username": fake.username,
        "password": fake.password,
        "known_host_key": fake.host_key_line,
    }
    return SftpTarget(**(fields | changes))


def judged(fake: FakeDistributor, batch_id: str) -> BatchRecord:
    """The batch once the fake has accepted or rejected it."""
    return fake.wait_for(lambda b: b.batch_id == batch_id and b.status != "Validating")


def settled(fake: FakeDistributor, batch_id: str) -> BatchRecord:
    """The batch once every store has its final status."""
    return fake.wait_for(
        lambda b: (
            b.batch_id == batch_id
            and bool(b.stores)
            and all(state.status != "Processing" for state in b.stores)
        )
    )


def test_a_batch_is_acknowledged_then_processing_then_live(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """Resources, message and marker arrive; the ack says Accepted; the status report says
    Processing, then Live with a URL in every store, as the fake's clock moves."""
    clock = ManualClock()
    fake = make_fake(clock=clock, processing_seconds=1.0, live_seconds=2.0)
    sftp = target(fake)
    progress: list[tuple[str, int, int]] = []

    def on_progress(name: str, done: int, size: int) -> None:
        progress.append((name, done, size))

    receipt = deliver_batch(
        sftp, "B1", files, message(release(files)), "MSG-1.xml", on_progress=on_progress
    )

    assert receipt.uploaded == tuple(file.remote_name for file in files)
    assert receipt.resumed == receipt.skipped == ()
    assert receipt.marker_path == "/B1/BatchComplete_B1.xml"
    assert progress[-1] == ("resources/cover.jpg", files[2].size, files[2].size)
    received = fake.received_files("B1")
    assert {name: entry.md5 for name, entry in received.items() if name.startswith("res")} == {
        file.remote_name: file.md5 for file in files
    }
    assert judged(fake, "B1").status == "Accepted"
    [ack] = read_acknowledgements(sftp, "B1")
    assert (ack.message_id, ack.batch_id, ack.status, ack.errors) == ("MSG-1", "B1", "Accepted", ())
    assert read_status_reports(sftp, "B1") == []  # the clock has not moved

    clock.advance(1.0)
    fake.wait_for(lambda b: b.batch_id == "B1" and bool(b.stores))
    [processing] = read_status_reports(sftp, "B1")
    assert processing.sequence == 1 and processing.icpn == "036000291452"
    assert {(s.store, s.status) for s in processing.stores} == {
        (store, "Processing") for store in DEFAULT_STORES
    }

    clock.advance(2.0)
    settled(fake, "B1")
    [live] = read_status_reports(sftp, "B1")
    assert live.sequence == 2
    assert [s.store for s in live.stores] == list(DEFAULT_STORES)
    assert all(s.status == "Live" and (s.url or "").startswith("https://") for s in live.stores)
    spotify = live.store("spotify")
    assert spotify is not None and (spotify.url or "").startswith("https://open.spotify.com/album/")


def test_a_dropped_upload_resumes_with_only_the_rest(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """The server drops the connection 100 kB into the first master: sftp_dropped, retryable,
    no marker; the second call appends the missing 50 kB, sends the rest and completes."""
    fake = make_fake()
    sftp = target(fake)
    xml = message(release(files))
    fake.drop_after_bytes(100_000)

    with pytest.raises(DeliveryError) as dropped:
        deliver_batch(sftp, "B2", files, xml, "MSG-1.xml")

    assert (dropped.value.code, dropped.value.retryable) == ("sftp_dropped", True)
    first = fake.writes("B2/resources/A1.flac")
    assert sum(write.length for write in first) == 100_000
    assert "BatchComplete_B2.xml" not in fake.received_files("B2")

    receipt = deliver_batch(sftp, "B2", files, xml, "MSG-1.xml")

    assert receipt.resumed == ("resources/A1.flac",)
    assert receipt.uploaded == ("resources/A2.flac", "resources/cover.jpg")
    second = fake.writes("B2/resources/A1.flac")[len(first) :]
    assert {write.session for write in second} != {write.session for write in first}
    assert second[0].offset == 100_000
    assert sum(write.length for write in second) == AUDIO_SIZES[0] - 100_000
    assert fake.received_files("B2")["resources/A1.flac"].md5 == files[0].md5
    assert judged(fake, "B2").status == "Accepted"

    again = deliver_batch(sftp, "B2", files, xml, "MSG-1.xml")  # e.g. after a lost answer
    assert again.skipped == tuple(file.remote_name for file in files)
    assert again.bytes_sent == len(xml)


def test_a_wrong_password_is_an_auth_failure(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """The server refuses the password: sftp_auth_failed, not worth retrying."""
    fake = make_fake()
    with pytest.raises(DeliveryError) as refused:
        deliver_batch(target(fake, password="wrong"), "B3", files, b"<x/>", "M.xml")
    assert (refused.value.code, refused.value.retryable) == ("sftp_auth_failed", False)
    assert fake.writes() == []


def test_a_private_key_authenticates(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """With only a key authorized on the server, the client's private key gets in."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    fake = make_fake(password=None, authorized_key=key.export_public_key().decode())
    sftp = target(fake, password=None, private_key=key.export_private_key().decode())
    deliver_batch(sftp, "B4", files, message(release(files)), "MSG-1.xml")
    assert judged(fake, "B4").status == "Accepted"


def test_an_unexpected_host_key_is_refused(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """A server presenting another key than the pinned one gets nothing."""
    fake = make_fake()
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    with pytest.raises(DeliveryError) as refused:
        deliver_batch(target(fake, known_host_key=other), "B5", files, b"<x/>", "M.xml")
    assert (refused.value.code, refused.value.retryable) == ("sftp_host_key_mismatch", False)
    assert fake.writes() == []


def test_a_closed_port_is_unreachable(files: list[BatchFile]) -> None:
    """Nothing listens: sftp_unreachable, worth retrying."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sftp = SftpTarget("127.0.0.1", port, "u", password="p", insecure_accept_any_host_key=True)
    with pytest.raises(DeliveryError) as unreachable:
        deliver_batch(sftp, "B6", files, b"<x/>", "M.xml")
    assert (unreachable.value.code, unreachable.value.retryable) == ("sftp_unreachable", True)


def test_a_wrong_md5_is_rejected_with_hash_mismatch(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """The message's MD5 for a master is not the file's: Rejected, HashMismatch, no status."""
    fake = make_fake()
    sftp = target(fake)
    wrong = release([replace(files[0], md5="0" * 32), *files[1:]])
    deliver_batch(sftp, "B7", files, message(wrong), "MSG-1.xml")
    assert judged(fake, "B7").status == "Rejected"
    [ack] = read_acknowledgements(sftp, "B7")
    assert ack.status == "Rejected" and not ack.accepted
    assert [error.code for error in ack.errors] == ["HashMismatch"]
    assert "resources/A1.flac" in ack.errors[0].text


def test_reject_next_rejects_with_the_given_code(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """A fault makes the next (valid) batch Rejected with its code and text, once."""
    fake = make_fake()
    sftp = target(fake)
    fake.reject_next("DuplicateRelease", "this ICPN is already live")
    deliver_batch(sftp, "B8", files, message(release(files)), "MSG-1.xml")
    judged(fake, "B8")
    [ack] = read_acknowledgements(sftp, "B8")
    assert [(e.code, e.text) for e in ack.errors] == [
        ("DuplicateRelease", "this ICPN is already live")
    ]
    deliver_batch(sftp, "B9", files, message(release(files), "MSG-2"), "MSG-2.xml")
    assert judged(fake, "B9").status == "Accepted"


def test_a_takedown_takes_the_release_down_everywhere(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """A takedown message (empty Deal, no files) is accepted and every store ends TakenDown."""
    fake = make_fake()
    sftp = target(fake)
    xml = takedown_message(
        release(files),
        sender=SENDER,
        recipient=RECIPIENT,
        message_id="MSG-3",
        thread_id="THREAD-1",
        created_at=CREATED,
    )
    receipt = deliver_batch(sftp, "B10", [], xml, "MSG-3.xml")
    assert receipt.uploaded == ()
    assert settled(fake, "B10").kind == "takedown"
    [report] = read_status_reports(sftp, "B10")
    assert {s.status for s in report.stores} == {"TakenDown"}
    assert len(report.stores) == len(DEFAULT_STORES)


def test_an_update_is_accepted_without_files(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """A metadata update (files not provided) needs no resources and goes Live."""
    fake = make_fake()
    sftp = target(fake)
    deliver_batch(sftp, "B11", [], message(release(files), "MSG-4", update=True), "MSG-4.xml")
    assert settled(fake, "B11").kind == "update"
    [report] = read_status_reports(sftp, "B11")
    assert {s.status for s in report.stores} == {"Live"}


def test_a_failing_store_ends_failed_with_its_reason(
    make_fake: Callable[..., FakeDistributor], files: list[BatchFile]
) -> None:
    """store_fails: that store ends Failed with the reason, the others Live."""
    fake = make_fake()
    sftp = target(fake)
    fake.store_fails("deezer", "artwork contains a URL")
    deliver_batch(sftp, "B12", files, message(release(files)), "MSG-1.xml")
    settled(fake, "B12")
    [report] = read_status_reports(sftp, "B12")
    deezer = report.store("deezer")
    assert deezer is not None
    assert (deezer.status, deezer.reason, deezer.url) == ("Failed", "artwork contains a URL", None)
    assert {s.status for s in report.stores if s.store != "deezer"} == {"Live"}


def test_a_target_hides_its_secrets_and_pins_a_host_key() -> None:
    """repr shows neither password nor key; no host key without the sandbox's opt-out."""
    shown = repr(SftpTarget("h", 22, "u", password="hunter2", known_host_key="ssh-ed25519 AAAA"))
    assert "hunter2" not in shown and "password" in shown
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret"
    keyed = SftpTarget("h", 22, "u", private_key=key, insecure_accept_any_host_key=True)
    assert "secret" not in repr(keyed) and "host_key=ANY" in repr(keyed)
    with pytest.raises(ValueError, match="known_host_key"):
        SftpTarget("h", 22, "u", private_key=key)
    with pytest.raises(ValueError, match="password or a private key"):
        SftpTarget("h", 22, "u", insecure_accept_any_host_key=True)


def test_the_sandbox_serves_a_distributor_found_and_driven_over_http(
    files: list[BatchFile],
) -> None:
    """The sandbox app runs a distributor while it runs: its endpoint says where to deliver
    (the host key to pin included), its batches are listed, a fault is set and a reset
    empties it; a malformed fault is a 400."""
    with (
        serve_in_thread(create_sandbox_app()) as sandbox,
        httpx.Client(base_url=f"{sandbox.url}/distributor/_fake", timeout=30) as control,
    ):
        where = control.get("/endpoint").json()
        sftp = SftpTarget(
            host=where["host"],
            port=where["port"],
            username=where["username"],
            password=where["password"],
            known_host_key=where["host_key"],
        )
        assert control.post(
            "/faults", json={"reject_next": {"code": "Nope", "text": "no"}}
        ).is_success
        deliver_batch(sftp, "S1", files, message(release(files)), "MSG-1.xml")
        deliver_batch(sftp, "S2", files, message(release(files), "MSG-2"), "MSG-2.xml")

        def judged_both() -> list[dict[str, Any]] | None:
            batches = control.get("/batches").json()
            done = [b for b in batches if b["status"] != "Validating"]
            return done if len(done) == 2 else None

        deadline = time.monotonic() + 10
        while (seen := judged_both()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen is not None, control.get("/batches").json()
        assert {(b["batch_id"], b["status"]) for b in seen} == {
            ("S1", "Rejected"),
            ("S2", "Accepted"),
        }
        assert control.post("/faults", json={"explode": 1}).status_code == 400
        assert control.post("/faults", json=[1, 2]).status_code == 400
        assert control.post("/reset").is_success
        assert control.get("/batches").json() == []
