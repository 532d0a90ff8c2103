"""`sender.post` over `ssrf.guarded_pool` against raw HTTP servers that answer in the ways
real receivers do: compressed bodies, NUL bytes, IPv6 literals, keep-alive connections
closed while the dispatcher's loop was busy."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest

from crosspost.webhooks import sender
from crosspost.webhooks.ssrf import AddressPolicy, guarded_pool

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
TEST = AddressPolicy.for_mode("test")


@contextmanager
def raw_server(handle: Handler, host: str = "127.0.0.1") -> Iterator[tuple[int, list[bytes]]]:
    """An HTTP/1.1 server on its own thread and loop: `handle(request head, writer)` answers
    each request; yields the port and the request heads received."""
    heads: list[bytes] = []
    ready = threading.Event()
    box: dict[str, object] = {}

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                heads.append(head)
                await handle(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def run() -> None:
        loop = asyncio.new_event_loop()
        box["loop"] = loop

        async def start() -> None:
            server = await asyncio.start_server(connection, host, 0)
            box["port"] = server.sockets[0].getsockname()[1]
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the test server did not start"
    try:
        yield int(str(box["port"])), heads
    finally:
        loop = box["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)

        async def shut() -> None:
            # Connections still open are cancelled, not left pending when the loop ends.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shut(), loop)
        thread.join(timeout=10)
        loop.close()


def answer(body: bytes, *headers: bytes) -> Handler:
    async def handle(_: bytes, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
        writer.write(head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)
        await writer.drain()

    return handle


def post(url: str, *, count: int = 1, pause: float = 0.0) -> list[sender.Response]:
    """`count` posts through one single-connection pool, blocking the loop `pause` seconds
    between them (as an inline SQLite settle does)."""

    async def scenario() -> list[sender.Response]:
        pool = guarded_pool(TEST, max_connections=1)
        results = []
        for _ in range(count):
            results.append(await sender.post(pool, url, b"{}", {}, timeout=5))
            time.sleep(pause)
        await pool.aclose()
        return results

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (gzip.compress(b'{"received": true}'), b"gzip"),
        (zlib.compress(b'{"received": true}'), b"deflate"),
    ],
    # gzip stamps the current time into its header: named ids keep the test's id stable
    # across processes (pytest-xdist refuses workers that collected different ids).
    ids=["gzip", "deflate"],
)
def test_compressed_answers_are_logged_inflated(encoded: bytes, encoding: bytes) -> None:
    """A receiver may compress its answer unasked; the log keeps the text, as httpx did."""
    with raw_server(answer(encoded, b"Content-Encoding: " + encoding)) as (port, _):
        (result,) = post(f"http://127.0.0.1:{port}/hook")
    assert result.status_code == 200 and result.body == '{"received": true}'


def test_a_long_compressed_answer_keeps_its_first_4_kib() -> None:
    text = b"x" * 100_000
    with raw_server(answer(gzip.compress(text), b"Content-Encoding: gzip")) as (port, _):
        (result,) = post(f"http://127.0.0.1:{port}/hook")
    assert result.body == "x" * sender.BODY_LIMIT


def test_nul_and_undecodable_bodies_become_storable_text() -> None:
    """PostgreSQL text cannot hold NUL: it is logged as U+FFFD; a body claiming an encoding
    it does not have is described, not stored as gibberish."""
    with raw_server(answer(b"ok\x00done")) as (port, _):
        (nul,) = post(f"http://127.0.0.1:{port}/hook")
    assert nul.body == "ok\ufffddone"
    with raw_server(answer(b"not gzip at all", b"Content-Encoding: gzip")) as (port, _):
        (bad,) = post(f"http://127.0.0.1:{port}/hook")
    assert bad.status_code == 200 and bad.body == "(a gzip body that does not inflate)"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_an_ipv6_literal_keeps_its_brackets_in_the_host_header() -> None:
    with raw_server(answer(b"ok"), host="::1") as (port, heads):
        (result,) = post(f"http://[::1]:{port}/hook")
    assert result.status_code == 200
    assert f"\r\nHost: [::1]:{port}\r\n".encode() in heads[0]


def test_default_ports_are_left_out_of_the_host_header() -> None:
    assert sender._target("https://hooks.example.com:443/x").host == b"hooks.example.com"
    assert sender._target("http://hooks.example.com:8080/x").host == b"hooks.example.com:8080"


def test_a_connection_the_server_closed_while_the_loop_was_busy_is_not_reused() -> None:
    """The server closes each idle connection 3 ms after answering; the dispatcher's loop
    is busy for 10 ms, so its transport has not seen the close yet. The socket has: the
    next request opens a new connection instead of failing on the dead one."""

    async def answer_then_close(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.003)
        writer.close()

    with raw_server(answer_then_close) as (port, heads):
        results = post(f"http://127.0.0.1:{port}/hook", count=20, pause=0.01)
    assert [r.error for r in results if r.status_code != 200] == []
    assert len(heads) == 20
