"""S3 media storage transfer: our `S3Storage` beside boto3's managed transfer, same server.

Starts moto's S3 server (`python -m moto.server`) in its own process, creates a bucket,
writes a `--size-mib` file to disk, then in this process measures MB/s and how far the
resident memory grew (psutil, sampled in a thread) for:

- ours, upload: `begin_write` fed 1 MiB chunks from the file, then `commit` (multipart
  parts of `--part-mib`, each with its SHA-256, the whole file hashed as it goes);
- ours, download: `open` read in 1 MiB blocks written to a file (one streamed GET for the
  whole sequential read), and again in blocks of the part size;
- boto3 `upload_file` and `download_file` with the default TransferConfig (threads, 8 MiB
  parts, 10 at a time).

The memory target for ours is at most 64 MiB of growth whatever the size: a write holds one
part, a read one buffer. Every copy is checked against the source's SHA-256.

    python -m bench.storage_transfer [--size-mib 2048] [--part-mib 8]
    python -m bench.storage_transfer --short   # 256 MiB, for a quick look
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
from botocore.config import Config

from crosspost.fakes.server import free_port
from crosspost.media.storage_s3 import S3Storage

MiB = 1024 * 1024
BUCKET = "crosspost-bench"
TARGET_GROWTH_MIB = 64
_SAMPLE_SECONDS = 0.005
_DISTINCT_BLOCKS = 16


@dataclass(frozen=True)
class Figure:
    """One measured transfer."""

    name: str
    seconds: float
    growth_bytes: int
    size: int

    @property
    def mb_s(self) -> float:
        """Throughput in MB/s (10^6 bytes)."""
        return self.size / self.seconds / 1e6

    @property
    def growth_mib(self) -> float:
        """Resident memory growth in MiB."""
        return self.growth_bytes / MiB


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a process of its own; its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def write_source(path: Path, size_mib: int) -> str:
    """A file of `size_mib` MiB of seeded pseudo-random bytes; its hex SHA-256."""
    rng = random.Random(20261206)
    blocks = [rng.randbytes(MiB) for _ in range(_DISTINCT_BLOCKS)]
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for n in range(size_mib):
            block = blocks[n % _DISTINCT_BLOCKS]
            digest.update(block)
            fh.write(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The file's hex SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def measured(name: str, size: int, work: Callable[[], None]) -> Figure:
    """Run `work`, timing it and sampling this process's RSS in a thread (peak minus the
    RSS just before)."""
    gc.collect()
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(_SAMPLE_SECONDS):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        work()
    finally:
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
    peak = max(peak, process.memory_info().rss)
    return Figure(name, seconds, peak - baseline, size)


def ours_upload(storage: S3Storage, source: Path, key: str) -> Callable[[], None]:
    """Stream the file through `begin_write` in 1 MiB chunks, then commit."""

    def run() -> None:
        with source.open("rb") as fh, storage.begin_write(key) as pending:
            while chunk := fh.read(MiB):
                pending.write(chunk)
            pending.commit()

    return run


def ours_download(storage: S3Storage, key: str, target: Path, block: int) -> Callable[[], None]:
    """Read the object through `open` in blocks of `block` bytes into a file (front to back:
    one GET, streamed)."""

    def run() -> None:
        with storage.open(key) as fh, target.open("wb") as out:
            while data := fh.read(block):
                out.write(data)

    return run


def ranged_get_ms(client: Any, key: str, runs: int = 3) -> float:
    """Median milliseconds of one 1 MiB ranged GET of the object (moto's server reads the
    whole object for each one, so this grows with the object's size)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body = client.get_object(Bucket=BUCKET, Key=key, Range=f"bytes=0-{MiB - 1}")["Body"]
        body.read()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def check(what: str, got: str, want: str) -> None:
    """Stop the bench when a copy is not the source."""
    if got != want:
        raise SystemExit(f"{what}: SHA-256 {got} is not the source's {want}")


def run(size_mib: int, part_mib: int, workdir: Path) -> tuple[list[Figure], float]:
    """Every transfer of one file on one moto server, and what one small ranged GET costs
    there."""
    source = workdir / "source.bin"
    print(f"writing {size_mib} MiB to {source} …", flush=True)
    want = write_source(source, size_mib)
    size = source.stat().st_size
    figures = []
    with moto_server() as endpoint:
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        )
        config = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
        client = boto3.client("s3", endpoint_url=endpoint, config=config)
        client.create_bucket(Bucket=BUCKET)
        storage = S3Storage(
            BUCKET,
            "bench",
            local_dir=workdir / "local",
            endpoint_url=endpoint,
            region="us-east-1",
            addressing_style="path",
            part_size=part_mib * MiB,
        )
        print(f"moto at {endpoint}; transferring …", flush=True)
        figures.append(measured("ours upload", size, ours_upload(storage, source, "ours")))
        check("ours upload", storage.stored("ours").sha256, want)
        get_ms = ranged_get_ms(client, storage.object_key("ours"))
        copy = workdir / "ours.out"
        for block_mib in (1, part_mib):
            name = f"ours download {block_mib} MiB reads"
            figures.append(
                measured(name, size, ours_download(storage, "ours", copy, block_mib * MiB))
            )
            check(name, sha256_of(copy), want)
            copy.unlink()
        storage.delete("ours")

        copy = workdir / "boto3.out"

        def upload() -> None:
            client.upload_file(str(source), BUCKET, "bench/boto3")

        def download() -> None:
            client.download_file(BUCKET, "bench/boto3", str(copy))

        figures.append(measured("boto3 upload_file", size, upload))
        figures.append(measured("boto3 download_file", size, download))
        check("boto3 download", sha256_of(copy), want)
        copy.unlink()
        client.delete_object(Bucket=BUCKET, Key="bench/boto3")
    return figures, get_ms


def report(figures: list[Figure], get_ms: float, size_mib: int, part_mib: int) -> None:
    """The table: MB/s, RSS growth, and ours against boto3."""
    boto = {f.name.split()[1]: f for f in figures if f.name.startswith("boto3")}
    print(f"\n{size_mib} MiB file, moto S3 server in its own process, our parts {part_mib} MiB")
    print(f"{'transfer':<30} {'MB/s':>8} {'RSS growth MiB':>15} {'vs boto3':>9}")
    for figure in figures:
        twin = boto.get(figure.name.split()[1] + "_file")
        ratio = f"{figure.mb_s / twin.mb_s:.2f}x" if figure.name.startswith("ours") and twin else ""
        mark = ""
        if figure.name.startswith("ours"):
            mark = " ok" if figure.growth_mib <= TARGET_GROWTH_MIB else " OVER TARGET"
        print(f"{figure.name:<30} {figure.mb_s:>8.1f} {figure.growth_mib:>15.1f} {ratio:>9}{mark}")
    print(f"(target for ours: at most {TARGET_GROWTH_MIB} MiB of RSS growth)")
    print(
        f"one 1 MiB ranged GET of the {size_mib} MiB object on moto: {get_ms:.0f} ms (moto "
        "reads the whole object per ranged GET, so boto3's parallel ranged GETs are slow "
        "there; on S3 a GET costs its first-byte latency)"
    )


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="File size (default 2048).")
    parser.add_argument("--short", action="store_true", help="256 MiB: a quick run.")
    parser.add_argument("--part-mib", type=int, default=8, help="Our multipart part size.")
    args = parser.parse_args()
    size_mib = 256 if args.short else args.size_mib
    with tempfile.TemporaryDirectory(prefix="storage-transfer-") as tmp:
        figures, get_ms = run(size_mib, args.part_mib, Path(tmp))
    report(figures, get_ms, size_mib, args.part_mib)


if __name__ == "__main__":
    main()
