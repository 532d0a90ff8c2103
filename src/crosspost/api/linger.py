"""Answers that end before the request body does (a refused upload) are held open while the
rest of the body is read and dropped, so the client always gets to read them.

A server that closes a connection with unread bytes in its socket makes the kernel send a
reset, which destroys the answer on its way: a client that writes the whole body before it
reads (most do) sees "connection reset" and no answer at all. So the last byte of such an
answer is sent only after the body has been read to its end, up to a bound in bytes and time
past which the connection is given up as the client's choice.
"""

from __future__ import annotations

import anyio
from starlette.types import Message, Receive, Send

from crosspost.api.wellformed import content_length

LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 30.0


def lingering(headers: dict[str, str], receive: Receive, send: Send) -> tuple[Receive, Send]:
    """`receive` noting when the body has been read, and `send` that drains what is left of
    it before finishing an answer."""
    length = content_length(headers.get("content-length", "0")) or 0
    finished = length == 0 and "transfer-encoding" not in headers

    async def tracked() -> Message:
        nonlocal finished
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            finished = True
        return message

    async def holding(message: Message) -> None:
        if finished or message["type"] != "http.response.body" or message.get("more_body"):
            await send(message)
            return
        await send({**message, "more_body": True})
        await _drain(tracked)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return tracked, holding


async def _drain(receive: Receive) -> None:
    dropped = 0
    with anyio.move_on_after(LINGER_SECONDS):
        while dropped <= LINGER_BYTES:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            dropped += len(message.get("body", b""))
