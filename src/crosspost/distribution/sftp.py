"""DDEX ERN delivery over SFTP: one batch to a distributor, resumable, then its answers.

The choreography (DDEX's ERN choreography for FTP/SFTP) for one batch:

1. create ``<root>/<batch_id>/`` and ``<root>/<batch_id>/resources/``;
2. upload every resource (masters, artwork) under its ``remote_name`` ("resources/A1.flac");
3. upload the message XML as ``<root>/<batch_id>/<message_name>``;
4. only then write the empty marker ``<root>/<batch_id>/BatchComplete_<batch_id>.xml``:
   the distributor reads a batch only once the marker is there, so it never sees half of one.

The distributor answers in the batch folder: ``ack/ACK_<MessageId>.xml`` says whether the
package was accepted (or why not), ``status/STATUS_<MessageId>.xml`` where the release
stands in each store (`read_acknowledgements`, `read_status_reports`).

Resume: before each resource the remote copy is stat'ed. The full size means it is already
there (SFTP has no remote MD5, so the size is trusted); smaller means an earlier attempt was
cut off, and only the rest is sent, appended at the remote size; larger means it is not ours,
and it is sent again in full. So after `DeliveryError` ``sftp_dropped`` the same call again
sends only what is missing. The XML and the marker are written after every resource is whole.

The API is synchronous for our worker threads: each call runs its own event loop
(`asyncio.run`), so it must not be called from a thread that is running one.
"""

from __future__ import annotations

import asyncio
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

# asyncssh is imported where a delivery runs: at module level it would cost every API and
# worker process a tenth of a second at start, for a feature most never use.
if TYPE_CHECKING:
    import asyncssh

ProgressCallback = Callable[[str, int, int], object]
"""Called as ``(remote_name, bytes now on the server, size)`` after each chunk of a file."""

CHUNK_BYTES = 4 * 1024 * 1024  # read this much at a time; asyncssh pipelines it in requests
CONNECT_TIMEOUT_SECONDS = 30.0
_T = TypeVar("_T")


class DeliveryError(Exception):
    """A delivery that did not finish: a stable `code`, and whether trying again can help."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class SftpTarget:
    """A distributor's SFTP drop: where, who, and the server key we expect to find there."""

    host: str
    port: int
    username: str
    password: str | None = None
    private_key: str | None = None  # PEM or OpenSSH text
    known_host_key: str | None = None  # the server's public key line, "ssh-ed25519 AAAA..."
    root: str = "/"
    insecure_accept_any_host_key: bool = False  # only the sandbox: anyone could be listening

    def __post_init__(self) -> None:
        if self.password is None and self.private_key is None:
            raise ValueError("an SFTP target needs a password or a private key")
        if self.known_host_key is None and not self.insecure_accept_any_host_key:
            raise ValueError(
                "an SFTP target needs the server's public key (known_host_key): without it "
                "any server could receive the masters"
            )

    def __repr__(self) -> str:
        secret = "password" if self.password else "private key" if self.private_key else "none"
        return (
            f"SftpTarget({self.username}@{self.host}:{self.port}{self.root}, "
            f"auth={secret}, host_key={'pinned' if self.known_host_key else 'ANY'})"
        )


@dataclass(frozen=True)
class BatchFile:
    """A resource to deliver: the local file and its name in the batch, size and MD5."""

    local_path: Path
    remote_name: str  # relative to the batch folder, as the message's File/URI says
    size: int
    md5: str


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a delivery did: files sent whole, resumed or already there, and bytes sent."""

    batch_id: str
    message_path: str
    marker_path: str
    uploaded: tuple[str, ...]
    resumed: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_sent: int


@dataclass(frozen=True)
class AcknowledgementError:
    """Why a distributor refused a package: a stable code and its explanation."""

    code: str
    text: str


@dataclass(frozen=True)
class Acknowledgement:
    """The distributor's answer to one message of a batch."""

    message_id: str | None
    batch_id: str
    status: Literal["Accepted", "Rejected"]
    errors: tuple[AcknowledgementError, ...]

    @property
    def accepted(self) -> bool:
        """True when the package was taken."""
        return self.status == "Accepted"


@dataclass(frozen=True)
class StoreStatus:
    """Where a release stands in one store: Processing, Live, TakenDown or Failed."""

    store: str
    status: str
    url: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """The distributor's latest word on a message's release, store by store."""

    message_id: str
    batch_id: str
    icpn: str | None
    sequence: int
    stores: tuple[StoreStatus, ...]

    def store(self, name: str) -> StoreStatus | None:
        """The status in store `name`, if the report names it."""
        return next((entry for entry in self.stores if entry.store == name), None)


def deliver_batch(
    target: SftpTarget,
    batch_id: str,
    files: list[BatchFile],
    message_xml: bytes,
    message_name: str,
    *,
    on_progress: ProgressCallback | None = None,
) -> DeliveryReceipt:
    """Deliver one batch (resources, message, then the BatchComplete marker), resuming
    whatever an earlier attempt left behind; raises DeliveryError."""
    _check_name(batch_id, "batch id")
    _check_name(message_name, "message name")
    for file in files:
        _check_relative(file.remote_name)
    return _run(
        target,
        lambda sftp: _deliver(
            sftp, target, batch_id, files, message_xml, message_name, on_progress
        ),
    )


def read_acknowledgements(target: SftpTarget, batch_id: str) -> list[Acknowledgement]:
    """The acknowledgements the distributor wrote for the batch (none yet: an empty list)."""
    _check_name(batch_id, "batch id")
    folder = posixpath.join(target.root, batch_id, "ack")
    documents = _run(target, lambda sftp: _read_all(sftp, folder, "ACK_"))
    return [_acknowledgement(document, batch_id) for document in documents]


def read_status_reports(target: SftpTarget, batch_id: str) -> list[StatusReport]:
    """The distributor's status reports for the batch's messages (none yet: an empty list)."""
    _check_name(batch_id, "batch id")
    folder = posixpath.join(target.root, batch_id, "status")
    documents = _run(target, lambda sftp: _read_all(sftp, folder, "STATUS_"))
    return [_status_report(document, batch_id) for document in documents]


async def _deliver(
    sftp: asyncssh.SFTPClient,
    target: SftpTarget,
    batch_id: str,
    files: list[BatchFile],
    message_xml: bytes,
    message_name: str,
    on_progress: ProgressCallback | None,
) -> DeliveryReceipt:
    folder = posixpath.join(target.root, batch_id)
    await sftp.makedirs(posixpath.join(folder, "resources"), exist_ok=True)
    uploaded: list[str] = []
    resumed: list[str] = []
    skipped: list[str] = []
    sent = 0
    for file in files:
        path = posixpath.join(folder, file.remote_name)
        await sftp.makedirs(posixpath.dirname(path), exist_ok=True)
        remote_size = await _remote_size(sftp, path)
        if remote_size == file.size:
            skipped.append(file.remote_name)
            if on_progress is not None:
                on_progress(file.remote_name, file.size, file.size)
            continue
        # A partial copy is continued; a larger one is not ours to trust and starts over.
        start = remote_size if remote_size is not None and remote_size < file.size else 0
        sent += await _upload(sftp, file, path, start, on_progress)
        (resumed if start else uploaded).append(file.remote_name)
    message_path = posixpath.join(folder, message_name)
    async with sftp.open(message_path, "wb") as remote:
        await remote.write(message_xml, 0)
    sent += len(message_xml)
    marker_path = posixpath.join(folder, f"BatchComplete_{batch_id}.xml")
    async with sftp.open(marker_path, "wb"):
        pass  # empty: its existence is the message
    return DeliveryReceipt(
        batch_id, message_path, marker_path, tuple(uploaded), tuple(resumed), tuple(skipped), sent
    )


async def _remote_size(sftp: asyncssh.SFTPClient, path: str) -> int | None:
    import asyncssh  # noqa: PLC0415

    try:
        attrs = await sftp.stat(path)
    except asyncssh.SFTPNoSuchFile:
        return None
    return attrs.size


async def _upload(
    sftp: asyncssh.SFTPClient,
    file: BatchFile,
    path: str,
    start: int,
    on_progress: ProgressCallback | None,
) -> int:
    """Send `file` from byte `start` on ("r+b" keeps what is there); returns bytes sent."""
    offset = start
    with file.local_path.open("rb") as local:
        local.seek(start)
        async with sftp.open(path, "r+b" if start else "wb") as remote:
            while chunk := local.read(CHUNK_BYTES):
                await remote.write(chunk, offset)
                offset += len(chunk)
                if on_progress is not None:
                    on_progress(file.remote_name, offset, file.size)
    return offset - start


async def _read_all(sftp: asyncssh.SFTPClient, folder: str, prefix: str) -> list[bytes]:
    import asyncssh  # noqa: PLC0415

    try:
        names = await sftp.listdir(folder)
    except asyncssh.SFTPNoSuchFile:
        return []
    documents: list[bytes] = []
    for name in sorted(names):
        if name.startswith(prefix) and name.endswith(".xml"):
            async with sftp.open(posixpath.join(folder, name), "rb") as remote:
                data = await remote.read()
            documents.append(data if isinstance(data, bytes) else data.encode())
    return documents


def _acknowledgement(document: bytes, batch_id: str) -> Acknowledgement:
    root = _parse(document, "FtpAcknowledgementMessage")
    found = root.findtext("Status")
    if found not in ("Accepted", "Rejected"):
        raise DeliveryError(
            "sftp_failed", f"unknown acknowledgement status {found!r}", retryable=False
        )
    status: Literal["Accepted", "Rejected"] = "Accepted" if found == "Accepted" else "Rejected"
    errors = tuple(
        AcknowledgementError(error.findtext("Code") or "", error.findtext("Text") or "")
        for error in root.iterfind("Error")
    )
    return Acknowledgement(
        root.findtext("MessageId"), root.findtext("BatchId") or batch_id, status, errors
    )


def _status_report(document: bytes, batch_id: str) -> StatusReport:
    root = _parse(document, "ReleaseStatusReport")
    stores = tuple(
        StoreStatus(
            entry.findtext("Name") or "",
            entry.findtext("Status") or "",
            entry.findtext("Url"),
            entry.findtext("Reason"),
        )
        for entry in root.iterfind("Store")
    )
    return StatusReport(
        root.findtext("MessageId") or "",
        root.findtext("BatchId") or batch_id,
        root.findtext("ICPN"),
        int(root.findtext("ReportSequence") or 0),
        stores,
    )


def _parse(document: bytes, tag: str) -> ET.Element:
    try:
        # The distributor's file, read with expat, which expands no external entities and
        # caps entity expansion: safe for a document of this shape.
        root = ET.fromstring(document)  # noqa: S314
    except ET.ParseError as error:
        raise DeliveryError("sftp_failed", f"unreadable {tag}: {error}", retryable=False) from None
    if root.tag != tag:
        raise DeliveryError("sftp_failed", f"expected a {tag}, found {root.tag}", retryable=False)
    return root


def _run(target: SftpTarget, work: Callable[[asyncssh.SFTPClient], Awaitable[_T]]) -> _T:
    import asyncssh  # noqa: PLC0415

    async def session() -> _T:
        connection = await _connect(target)
        try:
            async with connection, connection.start_sftp_client() as sftp:
                result = await work(sftp)
        except asyncssh.SFTPPermissionDenied as error:
            raise DeliveryError("sftp_permission_denied", str(error), retryable=False) from None
        except (asyncssh.SFTPConnectionLost, asyncssh.DisconnectError, ConnectionError) as error:
            raise DeliveryError(
                "sftp_dropped", f"the connection was lost: {error}", retryable=True
            ) from None
        except asyncssh.Error as error:  # any other SFTP status, channel refusal
            raise DeliveryError("sftp_failed", str(error), retryable=True) from None
        return result

    return asyncio.run(session())


async def _connect(target: SftpTarget) -> asyncssh.SSHClientConnection:
    """The SSH connection, its failures sorted by whether another try can help."""
    import asyncssh  # noqa: PLC0415

    trusted: tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] | None
    try:
        keys = (
            None
            if target.private_key is None
            else [asyncssh.import_private_key(target.private_key)]
        )
        trusted = (
            None
            if target.known_host_key is None
            else ([asyncssh.import_public_key(target.known_host_key)], [], [])
        )
    except (asyncssh.KeyImportError, ValueError) as error:
        raise DeliveryError("sftp_auth_failed", f"unusable key: {error}", retryable=False) from None
    try:
        return await asyncssh.connect(
            target.host,
            target.port,
            username=target.username,
            password=target.password,
            client_keys=keys,  # None: no public-key auth, never keys from ~/.ssh
            known_hosts=trusted,  # None: accept any (the sandbox only, see SftpTarget)
            config=None,  # no ~/.ssh/config: the target says everything
            agent_path=None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except asyncssh.HostKeyNotVerifiable as error:
        raise DeliveryError(
            "sftp_host_key_mismatch",
            f"{target.host}:{target.port} did not present the expected host key: {error}",
            retryable=False,
        ) from None
    except asyncssh.PermissionDenied as error:
        raise DeliveryError(
            "sftp_auth_failed", f"{target.username} was refused: {error}", retryable=False
        ) from None
    except asyncssh.ConnectionLost as error:
        raise DeliveryError("sftp_dropped", str(error), retryable=True) from None
    except asyncssh.Error as error:
        raise DeliveryError("sftp_failed", str(error), retryable=True) from None
    except (OSError, TimeoutError) as error:
        raise DeliveryError(
            "sftp_unreachable", f"{target.host}:{target.port}: {error}", retryable=True
        ) from None


def _check_name(name: str, what: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"the {what} {name!r} must be a single path segment")


def _check_relative(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{name!r} must be a relative path inside the batch folder")
