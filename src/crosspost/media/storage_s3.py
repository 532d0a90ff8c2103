"""Media in S3-compatible object storage (AWS S3, MinIO, R2, …), through boto3.

A write streams to its key as a multipart upload, one part buffered at a time (memory is
bounded by the part size, whatever the file), each part checked by the store against its
SHA-256; nothing is visible under the key until the upload is completed at `commit`, and
a write abandoned by a dead process stays an incomplete multipart upload that
`discard_pending`/`purge_pending` abort. Reads are ranged GETs behind a seekable stream,
one per sequential run. Resumable uploads are staged on local disk (tus appends at any
offset; S3 parts cannot be smaller than 5 MiB) and streamed into the store once whole.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NoReturn, ParamSpec, Self, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crosspost.media.storage import (
    PresignedPut,
    StorageUnavailable,
    StoredObject,
    check_key,
    too_large,
)
from crosspost.media.storage_local import LocalStagedWrite, Staging

MiB = 1024 * 1024
# S3's smallest part (but the last) is 5 MiB; 8 MiB parts keep a 2 GiB file at 256 parts,
# far below the 10,000 allowed, and memory near 16 MiB per write.
DEFAULT_PART_SIZE = 8 * MiB
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _unavailable(exc: BaseException, doing: str) -> NoReturn:
    # The store's own message names the bucket and operation, never a credential.
    raise StorageUnavailable(
        f"the media store failed while {doing} ({type(exc).__name__}); nothing was lost, "
        "try again shortly",
    ) from exc


def _calling(doing: str, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`call`, with a missing object as FileNotFoundError and any other failure as 503."""
    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        if _missing(exc):
            raise FileNotFoundError(doing) from exc
        _unavailable(exc, doing)
    except BotoCoreError as exc:
        _unavailable(exc, doing)


def parse_store_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix without slashes); ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"a media store URL looks like s3://bucket/prefix, not {url!r}")
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


class S3PendingWrite:
    """A streamed multipart upload to one key (a single PUT when it fits one part)."""

    def __init__(self, storage: S3Storage, key: str, max_bytes: int | None) -> None:
        self._storage = storage
        self._key = key
        self._object = storage.object_key(key)
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._state = "open"

    @property
    def key(self) -> str:
        """The key the bytes will have."""
        return self._key

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"this write was already {self._state}")

    def write(self, chunk: bytes) -> None:
        """Append a chunk, sending each full part; PayloadTooLarge (and everything
        discarded) past the limit."""
        self._check_open()
        if self._max_bytes is not None and self._size + len(chunk) > self._max_bytes:
            self.abort()
            raise too_large(self._max_bytes)
        self._hash.update(chunk)
        self._size += len(chunk)
        self._buffer += chunk
        part = self._storage.part_size
        while len(self._buffer) >= part:
            self._send(bytes(self._buffer[:part]))
            del self._buffer[:part]

    def _send(self, data: bytes) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        try:
            if self._upload_id is None:
                started = _calling(
                    "starting an upload",
                    client.create_multipart_upload,
                    Bucket=bucket,
                    Key=self._object,
                    ChecksumAlgorithm="SHA256",
                )
                self._upload_id = str(started["UploadId"])
            number = len(self._parts) + 1
            checksum = _b64(hashlib.sha256(data).digest())
            sent = _calling(
                "uploading a part",
                client.upload_part,
                Bucket=bucket,
                Key=self._object,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=checksum,
            )
        except BaseException:
            self.abort()
            raise
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number, "ChecksumSHA256": checksum})

    def commit(self) -> StoredObject:
        """Complete the upload (or PUT the one part): the object appears whole at once."""
        self._check_open()
        client, bucket = self._storage.client, self._storage.bucket
        try:
            if self._upload_id is None:
                _calling(
                    "storing an object",
                    client.put_object,
                    Bucket=bucket,
                    Key=self._object,
                    Body=bytes(self._buffer),
                    ChecksumSHA256=_b64(self._hash.digest()),
                )
            else:
                if self._buffer:
                    self._send(bytes(self._buffer))
                _calling(
                    "completing an upload",
                    client.complete_multipart_upload,
                    Bucket=bucket,
                    Key=self._object,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        self._buffer = bytearray()
        self._state = "committed"
        return StoredObject(key=self._key, size=self._size, sha256=self._hash.hexdigest())

    def abort(self) -> None:
        """Discard what was sent; safe to call more than once."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._buffer = bytearray()
        if self._upload_id is not None:
            # Best effort: a failure leaves an incomplete upload for purge_pending.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._storage.client.abort_multipart_upload(
                    Bucket=self._storage.bucket, Key=self._object, UploadId=self._upload_id
                )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


class S3Reader(io.RawIOBase):
    """An object as a seekable raw stream. Sequential reads share one open GET (from the
    position to the end), so a long read pays the store's first-byte latency once; a seek
    elsewhere closes it and the next read opens another."""

    def __init__(self, storage: S3Storage, key: str, size: int) -> None:
        self._storage = storage
        self._object = storage.object_key(key)
        self._size = size
        self._position = 0
        self._body: Any = None  # the open GET's body, at `_position`

    def readable(self) -> bool:
        """Always."""
        return True

    def seekable(self) -> bool:
        """Always."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (no request is made)."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop()
        self._position = position
        return self._position

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the current position, from the open GET or a new one."""
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        # A connection the store closed while idle (a slow consumer) fails the first read
        # of a kept GET: one fresh GET from the same position, then the failure is ours.
        for last in (False, True):
            if self._body is None:
                self._body = self._open_body()
            try:
                data = self._body.read(wanted)
            except (BotoCoreError, OSError) as exc:
                self._drop()
                if last:
                    _unavailable(exc, "reading an object")
                continue
            if data:
                view[: len(data)] = data
                self._position += len(data)
                return len(data)
            self._drop()  # ended before the object did
        raise StorageUnavailable(
            f"the media store ended a read at byte {self._position} of {self._size}; "
            "nothing was lost, try again shortly"
        )

    def close(self) -> None:
        """Close the open GET, if any."""
        self._drop()
        super().close()

    def _open_body(self) -> Any:
        got = _calling(
            "reading an object",
            self._storage.client.get_object,
            Bucket=self._storage.bucket,
            Key=self._object,
            Range=f"bytes={self._position}-{self._size - 1}",
        )
        return got["Body"]

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class S3Storage:
    """Media under `prefix` in one bucket of an S3-compatible store."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        local_dir: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        max_bytes: int | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.max_bytes = max_bytes
        if part_size < 5 * MiB:
            raise ValueError("S3 parts are at least 5 MiB")
        self.part_size = part_size
        # Credentials come the usual AWS ways (environment, profile, instance role): never
        # through our settings, so they can never reach a log of ours.
        self.client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                s3={"addressing_style": addressing_style},
                retries={"mode": "standard", "max_attempts": 4},
                signature_version="s3v4",
            ),
        )
        local_dir.mkdir(parents=True, exist_ok=True)
        self.local_dir = local_dir
        self.staging = Staging(local_dir / ".resumable")

    @property
    def name(self) -> str:
        """`s3://bucket/prefix`."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def object_key(self, key: str) -> str:
        """The bucket's key for one of ours (InvalidKey for a malformed one)."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ours(self, object_key: str) -> str:
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key

    def begin_write(self, key: str, *, max_bytes: int | None = None) -> S3PendingWrite:
        """Start a streamed write to `key`; `max_bytes` overrides the store's default."""
        return S3PendingWrite(self, key, max_bytes if max_bytes is not None else self.max_bytes)

    def _uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                yield from page.get("Uploads", [])
        except (ClientError, BotoCoreError) as exc:
            _unavailable(exc, "listing uploads")

    def _abort(self, upload: dict[str, Any]) -> None:
        with contextlib.suppress(FileNotFoundError):
            _calling(
                "aborting an upload",
                self.client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=upload["Key"],
                UploadId=upload["UploadId"],
            )

    def pending(self, prefix: str = "") -> list[str]:
        """The keys starting with `prefix` with an incomplete multipart upload."""
        return sorted({self._ours(u["Key"]) for u in self._uploads(prefix)})

    def discard_pending(self, key: str) -> int:
        """Abort every incomplete upload to `key`; returns how many."""
        full = self.object_key(key)
        uploads = [u for u in self._uploads(key) if u["Key"] == full]
        for upload in uploads:
            self._abort(upload)
        return len(uploads)

    def purge_pending(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Abort incomplete uploads started longer ago than the given age."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        old = [u for u in self._uploads("") if u["Initiated"].timestamp() < cutoff]
        for upload in old:
            self._abort(upload)
        return len(old)

    def stage(self, name: str, offset: int) -> LocalStagedWrite:
        """Write a resumable upload's staged file (on local disk) from `offset` on."""
        return self.staging.stage(name, offset)

    def staged_size(self, name: str) -> int:
        """The staged file's size in bytes (0 when there is none)."""
        return self.staging.size(name)

    def promote(self, name: str, key: str) -> StoredObject:
        """Stream the staged file into the store under `key`, then delete it."""
        source = self.staging.path(name)
        with source.open("rb") as fh, self.begin_write(key, max_bytes=None) as pending:
            while block := fh.read(self.part_size):
                pending.write(block)
            stored = pending.commit()
        source.unlink(missing_ok=True)
        return stored

    def discard_staged(self, name: str) -> None:
        """Delete a staged file; a missing one is not an error."""
        self.staging.discard(name)

    def stored(self, key: str) -> StoredObject:
        """The object under `key`, read once to hash it; FileNotFoundError when none."""
        hasher, size = hashlib.sha256(), 0
        with self.open(key) as fh:
            while block := fh.read(self.part_size):
                hasher.update(block)
                size += len(block)
        return StoredObject(key=key, size=size, sha256=hasher.hexdigest())

    def size(self, key: str) -> int:
        """The object's size (one HEAD); FileNotFoundError when there is none."""
        head = _calling(key, self.client.head_object, Bucket=self.bucket, Key=self.object_key(key))
        return int(head["ContentLength"])

    def open(self, key: str) -> BinaryIO:
        """The object as a buffered, seekable stream of ranged GETs."""
        raw = S3Reader(self, key, self.size(key))
        return io.BufferedReader(raw, buffer_size=self.part_size)

    @contextlib.contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        """A streamed copy of the object in a temp file, deleted after the block."""
        fd, name = tempfile.mkstemp(dir=self.local_dir, prefix="copy-", suffix=".tmp")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(key) as fh:
                while block := fh.read(self.part_size):
                    out.write(block)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every committed key starting with `prefix`, in order."""
        paginator = self.client.get_paginator("list_objects_v2")
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield self._ours(item["Key"])
        except (ClientError, BotoCoreError) as exc:
            _unavailable(exc, "listing objects")

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        with contextlib.suppress(FileNotFoundError):
            _calling(
                "deleting an object",
                self.client.delete_object,
                Bucket=self.bucket,
                Key=self.object_key(key),
            )

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key` (one HEAD)."""
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def presign_put(
        self, key: str, *, content_type: str, size: int, sha256: str | None, expires_in: int
    ) -> PresignedPut | None:
        """A presigned PUT whose signature covers the type, the exact length and, when
        given, the SHA-256 the store checks the body against."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "ContentType": content_type,
            "ContentLength": size,
        }
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        if sha256 is not None:
            checksum = _b64(bytes.fromhex(sha256))
            params["ChecksumSHA256"] = checksum
            headers["x-amz-checksum-sha256"] = checksum
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
        return PresignedPut(url=str(url), headers=headers)
