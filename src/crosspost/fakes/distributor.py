"""A fake DDEX distributor: an SFTP drop (asyncssh's server, chrooted to a temporary folder)
that checks each complete batch strictly, acknowledges it and moves the release through stores.

Written from DDEX's ERN 4.3 and choreography documents, never from our client: it parses the
XML itself. A batch is ``<batch>/`` holding one message ``*.xml``, its resources (the paths its
``File/URI`` elements name) and, last, the empty marker ``BatchComplete_<batch>.xml``. Once
the marker appears the fake writes, inside the batch folder (atomically: temp name, rename):

``ack/ACK_<MessageId>.xml`` (``ACK_<batch>.xml`` when the message has no readable id),
modelled on DDEX's FtpAcknowledgementMessage::

    <FtpAcknowledgementMessage>
      <MessageId>MSG-1</MessageId>  <BatchId>B1</BatchId>  <Status>Rejected</Status>
      <Error><Code>HashMismatch</Code><Text>resources/A1.flac: ...</Text></Error>
    </FtpAcknowledgementMessage>

Status is Accepted or Rejected; each Error has a stable Code (NotWellFormed, WrongNamespace,
WrongMessageType, MissingMessageId, MessageMissing, MultipleMessages, MarkerMismatch,
SchemaInvalid, FileMissing, InvalidUri, FileNotDescribed, SizeMismatch, HashMissing,
UnsupportedHashAlgorithm, HashMismatch, AudioEmpty, ArtworkInvalid, ArtworkFormat,
ArtworkHasAlpha, ArtworkNotRgb, ArtworkNotSquare, ArtworkTooSmall, ArtworkDimensionMismatch,
InvalidIcpn, InvalidIsrc, or the code given to `reject_next`) and a Text for people.

``status/STATUS_<MessageId>.xml``, for an accepted message, rewritten at each step::

    <ReleaseStatusReport>
      <MessageId>MSG-1</MessageId>  <BatchId>B1</BatchId>  <ICPN>036000291452</ICPN>
      <ReportSequence>2</ReportSequence>
      <Store><Name>spotify</Name><Status>Live</Status><Url>https://...</Url></Store>
      <Store><Name>deezer</Name><Status>Failed</Status><Reason>...</Reason></Store>
    </ReleaseStatusReport>

Sequence 1 (``processing_seconds`` after acceptance) has every store Processing; sequence 2
(``live_seconds`` later) Scheduled while the deals' start date is after the fake's today
(`set_today`), then Live with a URL, TakenDown for a takedown (every Deal empty), or
Failed with a Reason for a store set to fail. An update (files not provided) goes Live too.
A batch id is judged once: a corrected package travels as a new batch.

Faults: `reject_next`, `drop_after_bytes`, `delay_live`, `store_fails`, `slow_writes`
(`clear_faults`).
Inspection: `batches`, `wait_for`, `received_files`, and `writes`, the server's log of the
bytes each SFTP session wrote (what a resumed upload really sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, cast

import asyncssh

from crosspost.fakes import distributor_rules as rules
from crosspost.fakes.distributor_rules import (
    BatchKind,
    Rejection,
)

DEFAULT_STORES = ("spotify", "apple_music", "youtube_music", "amazon_music", "deezer")
SANDBOX_PASSWORD = "sandbox"  # noqa: S105 - the fake's public default, like the other fakes'
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Store URL, the alphabet and length of its fake album id.
_STORE_URLS = {
    "spotify": ("https://open.spotify.com/album/{}", _BASE62, 22),
    "apple_music": ("https://music.apple.com/album/{}", _BASE62[:10], 10),
    "youtube_music": ("https://music.youtube.com/playlist?list=OLAK5uy_{}", _BASE62, 33),
    "amazon_music": ("https://music.amazon.com/albums/B0{}", _BASE62[:36], 8),
    "deezer": ("https://www.deezer.com/album/{}", _BASE62[:10], 9),
}
_log = logging.getLogger(__name__)

BatchStatus = Literal["Validating", "Accepted", "Rejected"]


@dataclass(frozen=True)
class StoreState:
    """Where the release stands in one store."""

    store: str
    status: str
    url: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BatchRecord:
    """A batch as the fake has judged it so far."""

    batch_id: str
    message_id: str | None = None
    status: BatchStatus = "Validating"
    errors: tuple[Rejection, ...] = ()
    kind: BatchKind | None = None
    icpn: str | None = None
    stores: tuple[StoreState, ...] = ()
    starts: str | None = None  # the deals' start date (ISO), when the release goes live

    def store(self, name: str) -> StoreState | None:
        """The state in store `name`, once reported."""
        return next((state for state in self.stores if state.store == name), None)

    @property
    def codes(self) -> list[str]:
        """The rejection codes, in the order found."""
        return [error.code for error in self.errors]


@dataclass(frozen=True)
class Write:
    """One SFTP write the server performed: session number, path in the root, where, how much."""

    session: int
    path: str
    offset: int
    length: int


@dataclass(frozen=True)
class ReceivedFile:
    """A file as it lies in a batch folder."""

    name: str
    size: int
    md5: str


@dataclass
class _Progress:
    """The clock of an accepted batch: when its next status report is due."""

    due: float
    stage: int = 0
    extra_live: float = 0.0


@dataclass
class _Faults:
    reject_next: Rejection | None = None
    drop_after: int | None = None
    drop_session: int | None = None
    dropped_bytes: int = 0
    delay_live: float = 0.0
    write_delay: float = 0.0
    today: str | None = None
    store_failures: dict[str, str] = field(default_factory=dict)


class FakeDistributor:
    """An SFTP distributor on loopback, in a daemon thread with its own event loop."""

    def __init__(
        self,
        *,
        username: str = "crosspost",
        password: str | None = SANDBOX_PASSWORD,
        authorized_key: str | None = None,
        root: Path | None = None,
        schema_path: Path | str | None = None,
        stores: Sequence[str] = DEFAULT_STORES,
        processing_seconds: float = 0.2,
        live_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        poll_seconds: float = 0.05,
    ) -> None:
        self.username = username
        self.password = password
        self._authorized = (
            None if authorized_key is None else asyncssh.import_public_key(authorized_key)
        )
        self._own_root = root is None
        self._root = Path(root or tempfile.mkdtemp(prefix="fake-distributor-")).resolve()
        self._schema_path = None if schema_path is None else Path(schema_path)
        self._schema: Any = None
        self._stores = tuple(stores)
        self._processing_seconds = processing_seconds
        self._live_seconds = live_seconds
        self._clock = clock
        self._host = host
        self._poll_seconds = poll_seconds
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._changed = threading.Condition()
        self._batches: dict[str, BatchRecord] = {}
        self._progress: dict[str, _Progress] = {}
        self._writes: list[Write] = []
        self._sessions = itertools.count(1)
        self._faults = _Faults()
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._port = 0

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port it listens on (free, chosen at start)."""
        return self._port

    @property
    def root(self) -> Path:
        """The folder served as the SFTP root."""
        return self._root

    @property
    def host_key_line(self) -> str:
        """The server's public key line, for the client's known host key."""
        return self._host_key.export_public_key().decode().strip()

    # Lifecycle

    def start(self) -> FakeDistributor:
        """Listen; returns the fake."""
        # asyncssh logs every connection and channel at INFO: not news in a test or sandbox.
        logging.getLogger("asyncssh").setLevel(logging.WARNING)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-distributor", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        """Close every connection, stop the thread and remove a root the fake created."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
        self._loop = self._thread = None
        if self._own_root:
            shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> FakeDistributor:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Fault injection

    def reject_next(self, code: str, text: str) -> None:
        """Reject the next batch with this error (besides anything really wrong with it)."""
        with self._changed:
            self._faults.reject_next = Rejection(code, text)

    def drop_after_bytes(self, n: int) -> None:
        """Close the connection of the next session that uploads, after `n` bytes of it."""
        with self._changed:
            self._faults.drop_after, self._faults.drop_session = n, None
            self._faults.dropped_bytes = 0

    def delay_live(self, seconds: float) -> None:
        """Keep the next accepted release Processing `seconds` longer."""
        with self._changed:
            self._faults.delay_live = seconds

    def store_fails(self, store: str, reason: str) -> None:
        """Make `store` end Failed with `reason` instead of Live, until `clear_faults`."""
        if store not in self._stores:
            raise ValueError(f"unknown store {store!r}; the fake has {', '.join(self._stores)}")
        with self._changed:
            self._faults.store_failures[store] = reason

    def today(self) -> str:
        """The date the fake's stores go by (ISO): the real one, or the one set."""
        with self._changed:
            return self._faults.today or datetime.now(UTC).date().isoformat()

    def set_today(self, day: str | None) -> None:
        """Make the stores go by `day` (ISO date; None: the real date), as time passing."""
        if day is not None:
            date.fromisoformat(day)  # ValueError for a date that is not one
        with self._changed:
            self._faults.today = day

    def slow_writes(self, seconds: float) -> None:
        """Answer every file write `seconds` late, until `clear_faults` (a slow link)."""
        with self._changed:
            self._faults.write_delay = max(0.0, seconds)

    def clear_faults(self) -> None:
        """Forget every fault set and not yet used."""
        with self._changed:
            self._faults = _Faults()

    def reset(self) -> None:
        """Back to an empty drop: no batch, file, fault or log (the sandbox's reset)."""
        if self._loop is not None and self._loop.is_running():
            # On the server's loop, between two scans: a scan under way would otherwise
            # report on a batch after it was forgotten.
            asyncio.run_coroutine_threadsafe(self._forget(), self._loop).result(timeout=30)
        else:
            self._forget_now()

    async def _forget(self) -> None:
        self._forget_now()

    def _forget_now(self) -> None:
        with self._changed:
            self._faults = _Faults()
            self._batches.clear()
            self._progress.clear()
            self._writes.clear()
            for child in self._root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    # Inspection

    def batches(self) -> list[BatchRecord]:
        """Every batch seen, in the order its marker was found."""
        with self._changed:
            return list(self._batches.values())

    def wait_for(self, match: Callable[[BatchRecord], bool], timeout: float = 10.0) -> BatchRecord:
        """The first batch `match` accepts, waiting up to `timeout` seconds for it."""
        found: list[BatchRecord] = []

        def ready() -> bool:
            found[:] = [batch for batch in self._batches.values() if match(batch)][:1]
            return bool(found)

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"no matching batch within {timeout} s: {self._batches}")
            return found[0]

    def received_files(self, batch_id: str) -> dict[str, ReceivedFile]:
        """The files in a batch folder (not the fake's own ack/ and status/), by path."""
        folder = self._root / batch_id
        files = {}
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and not name.startswith(("ack/", "status/")):
                files[name] = ReceivedFile(name, path.stat().st_size, rules.md5_of(path))
        return files

    def writes(self, path: str | None = None) -> list[Write]:
        """The server's log of file writes, all or those to `path` (like "B1/resources/A1.flac")."""
        with self._changed:
            return [write for write in self._writes if path is None or write.path == path]

    # The server

    async def _serve(self) -> None:
        self._acceptor = await asyncssh.listen(
            self._host,
            0,
            server_host_keys=[self._host_key],
            server_factory=lambda: _Gate(self),
            sftp_factory=lambda channel: _Drop(channel, self),
            allow_scp=False,
        )
        self._port = self._acceptor.get_port()
        self._watcher = asyncio.create_task(self._watch())

    async def _shutdown(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        for connection in list(self._connections):
            connection.abort()
        if self._watcher is not None:
            self._watcher.cancel()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_default_executor()

    def _session_opened(self) -> int:
        return next(self._sessions)

    def _admit(self, session: int, path: str, offset: int, size: int) -> tuple[int, bool]:
        """How many of `size` bytes a write may store, and whether to drop the connection."""
        with self._changed:
            faults = self._faults
            if faults.drop_after is not None and faults.drop_session in (None, session):
                faults.drop_session = session
                room = max(faults.drop_after - faults.dropped_bytes, 0)
                allowed, drop = min(size, room), size >= room
                faults.dropped_bytes += allowed
                if drop:
                    faults.drop_after = faults.drop_session = None
            else:
                allowed, drop = size, False
            if allowed:
                self._writes.append(Write(session, path, offset, allowed))
            return allowed, drop

    # The distributor's side: watch, judge, acknowledge, report

    async def _watch(self) -> None:
        while True:
            try:
                await self._scan()
            except Exception:  # a fake that stops watching would hang every test: go on
                _log.exception("fake distributor: scanning %s failed", self._root)
            await asyncio.sleep(self._poll_seconds)

    async def _scan(self) -> None:
        for marker in sorted(self._root.glob("*/BatchComplete_*.xml")):
            batch_id = marker.parent.name
            with self._changed:
                if batch_id in self._batches:
                    continue
                self._batches[batch_id] = BatchRecord(batch_id)
                injected, self._faults.reject_next = self._faults.reject_next, None
            record = await asyncio.to_thread(self._judge, marker)
            if injected is not None:
                record = replace(record, status="Rejected", errors=(*record.errors, injected))
            self._settle(record)
        now = self._clock()
        for batch_id, progress in list(self._progress.items()):
            if now >= progress.due:
                self._advance(batch_id, progress, now)

    def _judge(self, marker: Path) -> BatchRecord:
        folder = marker.parent
        record = BatchRecord(folder.name)
        problems: list[Rejection] = []
        if marker.name != f"BatchComplete_{folder.name}.xml":
            problems.append(Rejection("MarkerMismatch", f"{marker.name} in folder {folder.name}"))
        messages = sorted(
            p for p in folder.glob("*.xml") if not p.name.startswith("BatchComplete_")
        )
        if len(messages) != 1:
            code = "MessageMissing" if not messages else "MultipleMessages"
            problems.append(Rejection(code, f"{len(messages)} message files in the batch folder"))
            return replace(record, status="Rejected", errors=tuple(problems))
        document = messages[0].read_bytes()
        root = rules.message_root(document)
        if isinstance(root, Rejection):
            return replace(record, status="Rejected", errors=(*problems, root))
        message_id = (root.findtext("MessageHeader/MessageId") or "").strip() or None
        if message_id is None:
            problems.append(Rejection("MissingMessageId", "MessageHeader has no MessageId"))
        if self._schema_path is not None:
            problems += self._schema_problems(document)
        problems += rules.file_problems(root, folder)
        problems += rules.identifier_problems(root)
        return replace(
            record,
            message_id=message_id,
            status="Rejected" if problems else "Accepted",
            errors=tuple(problems),
            kind=rules.kind_of(root),
            icpn=root.findtext("ReleaseList/Release/ReleaseId/ICPN"),
            starts=root.findtext("DealList/ReleaseDeal/Deal/DealTerms/ValidityPeriod/StartDate"),
        )

    def _schema_problems(self, document: bytes) -> list[Rejection]:
        if self._schema is None:
            import xmlschema  # noqa: PLC0415 - a test dependency, loaded only when asked for

            self._schema = xmlschema.XMLSchema(str(self._schema_path))
        errors = itertools.islice(self._schema.iter_errors(document), 5)
        return [Rejection("SchemaInvalid", f"{error.reason} at {error.path}") for error in errors]

    def _settle(self, record: BatchRecord) -> None:
        with self._changed:
            if record.batch_id not in self._batches:
                return  # forgotten by a reset while it was judged
        folder = self._root / record.batch_id
        _write_xml(
            folder / "ack" / f"ACK_{_safe(record.message_id or record.batch_id)}.xml", _ack(record)
        )
        with self._changed:
            if record.status == "Accepted":
                extra, self._faults.delay_live = self._faults.delay_live, 0.0
                self._progress[record.batch_id] = _Progress(
                    self._clock() + self._processing_seconds, extra_live=extra
                )
            self._batches[record.batch_id] = record
            self._changed.notify_all()

    def _advance(self, batch_id: str, progress: _Progress, now: float) -> None:
        with self._changed:
            record = self._batches[batch_id]
            failures = dict(self._faults.store_failures)
        progress.stage += 1
        if progress.stage == 1:
            stores = tuple(StoreState(store, "Processing") for store in self._stores)
            progress.due = now + self._live_seconds + progress.extra_live
        elif record.kind == "release" and record.starts and record.starts > self.today():
            # Stores hold a release until its deals start: Scheduled, looked at again later.
            if record.stores and all(s.status == "Scheduled" for s in record.stores):
                progress.stage -= 1  # nothing new to report yet
                progress.due = now + self._poll_seconds
                return
            stores = tuple(StoreState(store, "Scheduled") for store in self._stores)
            progress.due = now + self._poll_seconds
        else:
            stores = tuple(self._final(record, store, failures) for store in self._stores)
            del self._progress[batch_id]
        record = replace(record, stores=stores)
        _write_xml(
            self._root / batch_id / "status" / f"STATUS_{_safe(record.message_id or batch_id)}.xml",
            _status(record, sequence=progress.stage),
        )
        with self._changed:
            self._batches[batch_id] = record
            self._changed.notify_all()

    @staticmethod
    def _final(record: BatchRecord, store: str, failures: dict[str, str]) -> StoreState:
        if store in failures:
            return StoreState(store, "Failed", reason=failures[store])
        if record.kind == "takedown":
            return StoreState(store, "TakenDown")
        return StoreState(store, "Live", url=_store_url(store, record.icpn or record.batch_id))


class _Gate(asyncssh.SSHServer):
    """Authentication: the configured password and/or public key, for the configured user."""

    def __init__(self, fake: FakeDistributor) -> None:
        self._fake = fake
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._fake._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._fake._connections.discard(self._connection)

    def begin_auth(self, username: str) -> bool:
        return True  # everyone authenticates, even the configured user

    def password_auth_supported(self) -> bool:
        return self._fake.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._fake.password or ""
        return _same(username, self._fake.username) and _same(password, expected)

    def public_key_auth_supported(self) -> bool:
        return self._fake._authorized is not None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        authorized = self._fake._authorized
        return (
            authorized is not None
            and _same(username, self._fake.username)
            and key.public_data == authorized.public_data
        )


class _Drop(asyncssh.SFTPServer):
    """The SFTP side: the root as a chroot, every write logged and subject to drop faults."""

    def __init__(self, channel: asyncssh.SSHServerChannel[bytes], fake: FakeDistributor) -> None:
        super().__init__(channel, chroot=os.fsencode(fake.root))
        self._fake = fake
        self._session = fake._session_opened()
        self._names: dict[object, str] = {}

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        file_obj = super().open(path, pflags, attrs)
        self._names[file_obj] = os.fsdecode(path).lstrip("/")
        return file_obj

    def close(self, file_obj: object) -> None:
        self._names.pop(file_obj, None)
        super().close(file_obj)

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        delay = self._fake._faults.write_delay
        if not delay:
            return self._write(file_obj, offset, data)

        async def slowly() -> int:
            await asyncio.sleep(delay)  # a slow link: a test can act mid-upload
            return self._write(file_obj, offset, data)

        return slowly()

    def _write(self, file_obj: object, offset: int, data: bytes) -> int:
        name = self._names.get(file_obj, "?")
        allowed, drop = self._fake._admit(self._session, name, offset, len(data))
        if allowed:
            stream = cast(IO[bytes], file_obj)
            stream.seek(offset)
            stream.write(data[:allowed])
            stream.flush()  # on disk before the drop: a resuming client stats the true size
        if drop:
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("the fake distributor dropped the connection")
        return len(data)


def _store_url(store: str, icpn: str) -> str:
    template, alphabet, length = _STORE_URLS.get(
        store, (f"https://{store}.example/album/{{}}", _BASE62, 16)
    )
    number = int.from_bytes(hashlib.sha256(f"{store}:{icpn}".encode()).digest())
    digits = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        digits.append(alphabet[index])
    return template.format("".join(digits))


def _ack(record: BatchRecord) -> ET.Element:
    root = ET.Element("FtpAcknowledgementMessage")
    if record.message_id is not None:
        ET.SubElement(root, "MessageId").text = record.message_id
    ET.SubElement(root, "BatchId").text = record.batch_id
    ET.SubElement(root, "Status").text = record.status
    for error in record.errors:
        element = ET.SubElement(root, "Error")
        ET.SubElement(element, "Code").text = error.code
        ET.SubElement(element, "Text").text = error.text
    return root


def _status(record: BatchRecord, sequence: int) -> ET.Element:
    root = ET.Element("ReleaseStatusReport")
    ET.SubElement(root, "MessageId").text = record.message_id
    ET.SubElement(root, "BatchId").text = record.batch_id
    if record.icpn is not None:
        ET.SubElement(root, "ICPN").text = record.icpn
    ET.SubElement(root, "ReportSequence").text = str(sequence)
    for state in record.stores:
        element = ET.SubElement(root, "Store")
        ET.SubElement(element, "Name").text = state.store
        ET.SubElement(element, "Status").text = state.status
        for tag, value in (("Url", state.url), ("Reason", state.reason)):
            if value is not None:
                ET.SubElement(element, tag).text = value
    return root


def _write_xml(path: Path, root: ET.Element) -> None:
    """Write atomically: a reader sees the old document or the new one, never half."""
    path.parent.mkdir(exist_ok=True)
    ET.indent(root)
    temporary = path.with_name(f".{path.name}.tmp")
    ET.ElementTree(root).write(temporary, encoding="UTF-8", xml_declaration=True)
    temporary.replace(path)


def _safe(name: str) -> str:
    return _SAFE_NAME.sub("_", name)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
