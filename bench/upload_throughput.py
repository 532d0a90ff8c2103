"""Upload throughput: a large file to the YouTube and TikTok fakes, our client beside curl.

The fakes run in their own process (`crosspost sandbox`). For each platform our client runs
in a fresh process, as a worker would, driving its real `step` loop (each chunk streamed
from disk and its session recorded) until the upload is complete; it reports MB/s and how
far its resident memory grew. Then curl PUTs the same chunks (same session protocol, same
chunk boundaries) to a fresh session of the same fake. The ratio ours/curl is the figure.

    python -m bench.upload_throughput [--size-mib 1024] [--chunk-mib 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from crosspost.fakes.server import free_port

PLATFORMS = ("youtube", "tiktok")


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _client_and_start(
    platform: str, fakes: str, path: Path, chunk: int
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """A client for a new sandbox account and the session right before the first chunk."""
    from crosspost.domain.enums import MediaKind, Platform, TargetStatus
    from crosspost.platforms.base import Credentials, MediaFile, PublishRequest
    from crosspost.platforms.http import new_http_client
    from crosspost.platforms.registry import client_for

    account = httpx.post(f"{fakes}/{platform}/_fake/accounts", json={"handle": "bench"}).json()
    creds = Credentials(account["access_token"], account["refresh_token"])
    media = MediaFile(
        source=path,
        size=path.stat().st_size,
        content_type="video/mp4",
        kind=MediaKind.VIDEO,
        filename=path.name,
        sha256="",
        duration_seconds=30.0,
        width=1080,
        height=1920,
    )
    request = PublishRequest(
        target_id="tgt_bench",
        account_external_id=account["external_id"],
        account_handle="bench",
        text="bench upload",
        options={},
        media=media,
    )
    client = client_for(Platform(platform))(
        new_http_client(timeout=600), f"{fakes}/{platform}", chunk_bytes=chunk, poll_seconds=0.1
    )
    session: dict[str, Any] = {}
    while session.get("phase") not in {"upload", "upload_final"}:
        result = client.step(request, session, creds)
        assert result.status is not TargetStatus.FAILED
        session = result.session
    return client, request, creds, session


def child(platform: str, fakes: str, path: Path, chunk: int) -> None:
    """Our side: drive the client through every chunk; print MB/s and RSS growth as JSON."""
    client, request, creds, session = _client_and_start(platform, fakes, path, chunk)
    baseline = _rss_kib()
    start = time.perf_counter()
    while session.get("phase") in {"upload", "upload_final"}:
        if client.is_commit(session):
            session = {**session, "commit_attempted": True}
        session = client.step(request, session, creds).session
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = path.stat().st_size
    print(json.dumps({"mb_s": size / elapsed / 1e6, "rss_growth_mib": (peak - baseline) / 1024}))


def curl(platform: str, fakes: str, path: Path, chunk: int, folder: Path) -> float:
    """curl's side: the same chunks PUT to a fresh session; returns MB/s."""
    _, _, creds, session = _client_and_start(platform, fakes, path, chunk)
    size = path.stat().st_size
    if platform == "youtube":
        url, step = session["session_uri"], int(session["chunk"])
        auth = ["-H", f"Authorization: Bearer {creds.access_token}"]
    else:
        url, step = session["upload_url"], int(session["chunk_size"])
        auth = []
    bounds = list(range(0, size, step))
    if platform == "tiktok" and len(bounds) > 1 and size - bounds[-1] < step:
        bounds.pop()  # TikTok's last chunk absorbs the remainder, as the client plans it
    pieces = []
    for i, begin in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else size
        piece = folder / f"{platform}.{i}"
        with path.open("rb") as src, piece.open("wb") as dst:
            src.seek(begin)
            left = end - begin
            while left:
                block = src.read(min(left, 8 << 20))
                dst.write(block)
                left -= len(block)
        pieces.append((begin, end, piece))
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    start = time.perf_counter()
    for begin, end, piece in pieces:
        code = subprocess.run(
            [
                "curl", "-sS", "-o", str(folder / "curl.out"), "-w", "%{http_code}\n", "-X", "PUT",
                "-H", "Expect:", "--upload-file", str(piece),
                "-H", "Content-Type: video/mp4",
                "-H", f"Content-Range: bytes {begin}-{end - 1}/{size}",
                # -T appends the file name to a URL whose path ends in "/" (TikTok's does):
                # name the request target explicitly instead.
                "--request-target", target, *auth, f"{parts.scheme}://{parts.netloc}/upload",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        # 308 (YouTube, more to come), 206 (TikTok, more to come), 200/201 (complete).
        if code not in {"200", "201", "206", "308"}:
            body = (folder / "curl.out").read_text()[:500]
            raise RuntimeError(f"curl got HTTP {code} for bytes {begin}-{end - 1} of {url}: {body}")
    elapsed = time.perf_counter() - start
    for _, _, piece in pieces:
        piece.unlink()
    return size / elapsed / 1e6


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--child", nargs=3, metavar=("PLATFORM", "FAKES", "FILE"))
    args = parser.parse_args()
    chunk = args.chunk_mib << 20
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), chunk)
        return
    folder = Path(tempfile.mkdtemp(prefix="crosspost-upload-"))
    path = folder / "big.mp4"
    with path.open("wb") as fh:
        for _ in range(args.size_mib):
            fh.write(os.urandom(1 << 20))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(folder / "home"),
        CROSSPOST_SANDBOX_PORT=str(port),
        CROSSPOST_FAKE_RATE_LIMITS="0",
        CROSSPOST_LOG_LEVEL="WARNING",
    )
    fakes = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "crosspost", "sandbox"]
    server = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"{fakes}/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"file: {args.size_mib} MiB, chunks of {args.chunk_mib} MiB")
        for platform in PLATFORMS:
            me = [sys.executable, "-m", "bench.upload_throughput", "--chunk-mib"]
            out = subprocess.run(
                [*me, str(args.chunk_mib), "--child", platform, fakes, str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            ours = json.loads(out.strip().splitlines()[-1])
            theirs = curl(platform, fakes, path, chunk, folder)
            print(
                f"{platform}: ours {ours['mb_s']:.0f} MB/s, curl {theirs:.0f} MB/s, "
                f"ratio {ours['mb_s'] / theirs:.2f}; worker RSS growth "
                f"{ours['rss_growth_mib']:.1f} MiB"
            )
    finally:
        server.terminate()
        server.wait()
        path.unlink()


if __name__ == "__main__":
    main()
