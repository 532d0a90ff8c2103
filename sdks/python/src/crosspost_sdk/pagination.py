"""Cursor pages that fetch the next page as you iterate (auto-pagination).

``for post in client.posts.list(status="failed"): ...`` walks every page; ``.data`` is the
current page alone, ``.next_page()`` fetches one more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import Any, Generic, TypeVar

from crosspost_sdk._lazy import field
from crosspost_sdk._transport import AsyncTransport, Call, Transport

T = TypeVar("T")


def _at(call: Call, param: str, cursor: str) -> Call:
    return dataclasses.replace(call, params={**(call.params or {}), param: cursor})


class Page(Generic[T]):
    """One page of a list, iterable over every item of this page and the ones after it."""

    def __init__(
        self, transport: Transport, call: Call, kind: Any, cursor: str | None = "cursor"
    ) -> None:
        # `cursor`: the query parameter that takes `next_cursor` (`after` for the events
        # feed); None where the endpoint answers one page only.
        self._transport, self._call, self._kind, self._cursor = transport, call, kind, cursor
        answer = transport.call(call, kind)
        self.data: list[T] = list(field(answer, "data"))
        self.has_more: bool = bool(field(answer, "has_more"))
        self.next_cursor: str | None = field(answer, "next_cursor")

    def __repr__(self) -> str:
        return f"<Page of {len(self.data)}, has_more={self.has_more}>"

    def next_page(self) -> Page[T] | None:
        """The page after this one, or None on the last page."""
        if not self.has_more or not self.next_cursor or self._cursor is None:
            return None
        after = _at(self._call, self._cursor, self.next_cursor)
        return Page(self._transport, after, self._kind, self._cursor)

    def pages(self) -> Iterator[Page[T]]:
        """This page and every one after it."""
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data


class AsyncPage(Generic[T]):
    """One page of a list (awaited), async-iterable over every item from here on."""

    def __init__(
        self, transport: AsyncTransport, call: Call, kind: Any, answer: Any, cursor: str | None
    ) -> None:
        self._transport, self._call, self._kind, self._cursor = transport, call, kind, cursor
        self.data: list[T] = list(field(answer, "data"))
        self.has_more: bool = bool(field(answer, "has_more"))
        self.next_cursor: str | None = field(answer, "next_cursor")

    def __repr__(self) -> str:
        return f"<AsyncPage of {len(self.data)}, has_more={self.has_more}>"

    async def next_page(self) -> AsyncPage[T] | None:
        """The page after this one, or None on the last page."""
        if not self.has_more or not self.next_cursor or self._cursor is None:
            return None
        after = _at(self._call, self._cursor, self.next_cursor)
        return await fetch_async_page(self._transport, after, self._kind, self._cursor)

    async def pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page and every one after it."""
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item


async def fetch_async_page(
    transport: AsyncTransport, call: Call, kind: Any, cursor: str | None
) -> AsyncPage[Any]:
    """The page `call` asks for."""
    return AsyncPage(transport, call, kind, await transport.call(call, kind), cursor)


class AsyncPager(Generic[T]):
    """What an async list method returns: ``await`` it for the first page, or ``async for``
    over it for every item of every page."""

    def __init__(
        self, transport: AsyncTransport, call: Call, kind: Any, cursor: str | None = "cursor"
    ) -> None:
        self._first: Callable[[], Coroutine[Any, Any, AsyncPage[T]]] = lambda: fetch_async_page(
            transport, call, kind, cursor
        )

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first()
        async for item in page:
            yield item
