"""The fake distributor on its own, driven by asyncssh's plain SFTP client: it accepts a whole
ERN 4.3 package and refuses each kind of broken one with a stable code."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import os
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from PIL import Image

from crosspost.distribution.ern import (
    ErnArtist,
    ErnImage,
    ErnRelease,
    ErnTrack,
    ImageCodec,
    Party,
    new_release_message,
)
from crosspost.fakes.distributor import BatchRecord, FakeDistributor
from tests.ddex import require_schema

ROOT = Path(__file__).parents[2]
# Where tests/distribution/test_ern.py finds DDEX's schema.
AUDIO = os.urandom(40_000)


@functools.cache  # the parameters below build the same images twice, at collection
def cover(size: tuple[int, int] = (3000, 3000), mode: str = "RGB", kind: str = "JPEG") -> bytes:
    """An image of `size` and `mode`, encoded as `kind`."""
    buffer = io.BytesIO()
    Image.new(mode, size, "#c8285a").save(buffer, kind)
    return buffer.getvalue()


COVER = cover()


def md5(data: bytes) -> str:
    """Hex MD5."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def message(
    audio: bytes = AUDIO, image: bytes = COVER, *, track: Any = None, **changes: Any
) -> bytes:
    """A one-track NewReleaseMessage describing `audio` and `image`; `changes` go to the
    release, `track` replaces the track's fields given."""
    with Image.open(io.BytesIO(image)) as opened:
        width, height = opened.size
        codec: ImageCodec = "PNG" if opened.format == "PNG" else "JPEG"
    fields: dict[str, Any] = {
        "isrc": "USRC17607839",
        "title": "Low Tide",
        "artists": [ErnArtist("Nadia Vale")],
        "duration_seconds": 201,
        "language": "en",
        "file_name": "resources/A1.flac",
        "md5": md5(audio),
        "size_bytes": len(audio),
        "audio_codec": "FLAC",
        "bit_depth": 24,
        "sample_rate": 48_000,
        "channels": 2,
        "p_line_year": 2026,
        "p_line_owner": "Northbound Records",
    }
    release: dict[str, Any] = {
        "upc": "036000291452",
        "title": "Low Tide",
        "release_type": "single",
        "artists": [ErnArtist("Nadia Vale")],
        "label": "Northbound Records",
        "genre": "Electronic",
        "language": "en",
        "p_line": (2026, "Northbound Records"),
        "c_line": (2026, "Northbound Records"),
        "release_date": date(2026, 3, 6),
        "tracks": [ErnTrack(**(fields | (track or {})))],
        "image": ErnImage(
            file_name="resources/cover.jpg",
            md5=md5(image),
            size_bytes=len(image),
            width=width,
            height=height,
            image_codec=codec,
        ),
    }
    return new_release_message(
        ErnRelease(**(release | changes)),
        sender=Party("PADPIDA2014120301H", "Crosspost Distribution"),
        recipient=Party("PADPIDA2011072101T", "A Store"),
        message_id="MSG-1",
        thread_id="THREAD-1",
        created_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
    )


def package(**files: bytes | None) -> dict[str, bytes]:
    """A whole batch (message, master, cover) with `files` replaced, or left out when None."""
    whole: dict[str, bytes | None] = {
        "MSG-1.xml": message(),
        "resources/A1.flac": AUDIO,
        "resources/cover.jpg": COVER,
    }
    names = {"message": "MSG-1.xml", "audio": "resources/A1.flac", "image": "resources/cover.jpg"}
    for key, content in files.items():
        whole[names[key]] = content
    return {name: content for name, content in whole.items() if content is not None}


def upload(fake: FakeDistributor, batch_id: str, files: dict[str, bytes]) -> BatchRecord:
    """Put `files` in the batch folder, then the marker, and wait for the fake's verdict."""

    async def put() -> None:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                fake.port,
                username=fake.username,
                password=fake.password,
                known_hosts=([asyncssh.import_public_key(fake.host_key_line)], [], []),
                client_keys=None,
                agent_path=None,
                config=None,
            ) as connection,
            connection.start_sftp_client() as sftp,
        ):
            for name, content in [*files.items(), (f"BatchComplete_{batch_id}.xml", b"")]:
                path = f"/{batch_id}/{name}"
                await sftp.makedirs(posixpath.dirname(path), exist_ok=True)
                async with sftp.open(path, "wb") as remote:
                    await remote.write(content)

    asyncio.run(put())
    return fake.wait_for(lambda b: b.batch_id == batch_id and b.status != "Validating")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDistributor]:
    """One fake for the module: each test uses its own batch id and no faults."""
    with FakeDistributor(processing_seconds=0.01, live_seconds=0.01) as running:
        yield running


def test_a_whole_package_is_accepted_and_acknowledged(fake: FakeDistributor) -> None:
    """The ack file is an FtpAcknowledgementMessage naming the message and the batch."""
    record = upload(fake, "whole", package())
    assert (record.status, record.message_id, record.kind) == ("Accepted", "MSG-1", "release")
    ack = ET.parse(fake.root / "whole" / "ack" / "ACK_MSG-1.xml").getroot()  # noqa: S314
    assert ack.tag == "FtpAcknowledgementMessage"
    assert [ack.findtext(tag) for tag in ("MessageId", "BatchId", "Status")] == [
        "MSG-1",
        "whole",
        "Accepted",
    ]
    assert ack.find("Error") is None


@pytest.mark.parametrize(
    ("batch_id", "files", "code"),
    [
        ("missing", {"audio": None}, "FileMissing"),
        ("size", {"message": message(track={"size_bytes": len(AUDIO) + 1})}, "SizeMismatch"),
        (
            "small",
            {"image": cover((2999, 2999)), "message": message(image=cover((2999, 2999)))},
            "ArtworkTooSmall",
        ),
        (
            "oblong",
            {"image": cover((3000, 3001)), "message": message(image=cover((3000, 3001)))},
            "ArtworkNotSquare",
        ),
        (
            "alpha",
            {
                "image": cover(mode="RGBA", kind="PNG"),
                "message": message(image=cover(mode="RGBA", kind="PNG")),
            },
            "ArtworkHasAlpha",
        ),
        ("empty", {"audio": b"", "message": message(audio=b"")}, "AudioEmpty"),
        ("icpn", {"message": message(upc="036000291453")}, "InvalidIcpn"),
        ("isrc", {"message": message(track={"isrc": "US-RC1-76-07839"})}, "InvalidIsrc"),
        ("broken", {"message": message()[:-40]}, "NotWellFormed"),
        ("namespace", {"message": message().replace(b"/ern/43", b"/ern/42")}, "WrongNamespace"),
    ],
)
def test_a_broken_package_is_rejected_with_its_code(
    fake: FakeDistributor, batch_id: str, files: dict[str, bytes | None], code: str
) -> None:
    """Each defect alone is refused, with exactly its own code in the acknowledgement."""
    record = upload(fake, batch_id, package(**files))
    assert (record.status, record.codes) == ("Rejected", [code])
    [ack_file] = (fake.root / batch_id / "ack").iterdir()
    ack = ET.parse(ack_file).getroot()  # noqa: S314
    assert ack.findtext("Status") == "Rejected"
    assert [error.findtext("Code") for error in ack.iterfind("Error")] == [code]
    assert all(error.findtext("Text") for error in ack.iterfind("Error"))
    assert not (fake.root / batch_id / "status").exists()


def test_an_unreadable_message_is_acknowledged_under_the_batch_id(fake: FakeDistributor) -> None:
    """Without a readable MessageId the ack is named after the batch."""
    upload(fake, "garbled", package(message=b"<ern:NewReleaseMessage"))
    assert [path.name for path in (fake.root / "garbled" / "ack").iterdir()] == ["ACK_garbled.xml"]


def test_wait_for_gives_up_at_its_deadline(fake: FakeDistributor) -> None:
    """wait_for raises TimeoutError when nothing matches in time."""
    with pytest.raises(TimeoutError):
        fake.wait_for(lambda b: b.batch_id == "never", timeout=0.05)


def test_a_schema_invalid_message_is_rejected(tmp_path: Path) -> None:
    """With DDEX's XSD configured, a message the schema refuses is SchemaInvalid (a valid one
    still passes)."""
    schema = require_schema()
    invalid = message().replace(b"</MessageId>", b"</MessageId>\n    <Mood>Calm</Mood>", 1)
    with FakeDistributor(schema_path=schema, root=tmp_path) as checked:
        assert upload(checked, "valid", package()).status == "Accepted"
        record = upload(checked, "invalid", package(message=invalid))
    assert (record.status, record.codes) == ("Rejected", ["SchemaInvalid"])
    assert "Mood" in record.errors[0].text
