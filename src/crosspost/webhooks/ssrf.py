"""SSRF protection for webhook deliveries, applied where the connection is made.

Live-mode endpoints may only reach public addresses. A static check at endpoint creation
(`check_url`) catches what the URL alone shows; the real guard is `GuardedBackend`, the
network backend under `safe_async_client`: it resolves the host itself, drops every address
`AddressPolicy` refuses and connects to an allowed one, so the address checked is the
address connected to and a DNS answer that changes between check and connect (rebinding)
gains nothing. TLS still runs against the hostname (SNI and certificate), and the Host
header is the URL's. Both read a host through `host_address` (one `normalise_host`), so no
spelling of an address (``127.0.0.1.``, ``0x7f.1``, ``2130706433``) passes one and not the other.

Under the guard, `AsyncioBackend` carries the bytes on asyncio's own transports: anyio's
streams (httpcore's default) open a cancel scope and a checkpoint for every read and write,
which cost a webhook a quarter of its CPU. `guarded_pool` is the dispatcher's connection
pool (httpcore's, driven without httpx); `safe_async_client` is the same as an httpx client.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, TypeAlias, cast

import anyio
import httpcore
import httpx

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""Looks a host name up: ``(host, port) -> addresses`` in preference order."""

ALLOW_CIDRS_SETTING = "CROSSPOST_WEBHOOK_ALLOW_CIDRS"
_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Range:
    network: IPNetwork
    label: str
    private: bool = False  # a network of one's own: reachable in test mode
    embedded: Callable[[IPv6Address], IPv4Address] | None = None  # IPv6 carrying an IPv4


def _nat64(ip: IPv6Address) -> IPv4Address:
    return IPv4Address(int(ip) & 0xFFFF_FFFF)


def _six_to_four(ip: IPv6Address) -> IPv4Address:
    return IPv4Address((int(ip) >> 80) & 0xFFFF_FFFF)


def _range(
    cidr: str,
    label: str,
    *,
    private: bool = False,
    embedded: Callable[[IPv6Address], IPv4Address] | None = None,
) -> _Range:
    return _Range(ipaddress.ip_network(cidr), label, private, embedded)


# The IANA special-purpose registries; the first match names the range, so the narrower
# network comes first where two overlap.
_IPV4_RANGES = (
    _range("0.0.0.0/8", "unspecified"),
    _range("10.0.0.0/8", "private", private=True),
    _range("100.64.0.0/10", "shared-address (CGNAT)", private=True),
    _range("127.0.0.0/8", "loopback", private=True),
    _range("169.254.0.0/16", "link-local"),
    _range("172.16.0.0/12", "private", private=True),
    _range("192.0.0.0/24", "IETF protocol-assignment"),
    _range("192.0.2.0/24", "documentation"),
    _range("192.88.99.0/24", "deprecated 6to4-relay"),
    _range("192.168.0.0/16", "private", private=True),
    _range("198.18.0.0/15", "benchmarking"),
    _range("198.51.100.0/24", "documentation"),
    _range("203.0.113.0/24", "documentation"),
    _range("224.0.0.0/4", "multicast"),
    _range("255.255.255.255/32", "broadcast"),
    _range("240.0.0.0/4", "reserved"),
)
_IPV6_RANGES = (
    _range("::/128", "unspecified"),
    _range("::1/128", "loopback", private=True),
    _range("64:ff9b::/96", "NAT64", embedded=_nat64),
    _range("64:ff9b:1::/48", "local-use NAT64", private=True),
    _range("::/8", "reserved (IPv4-compatible)"),
    _range("100::/64", "discard-only"),
    _range("2001::/32", "Teredo"),
    _range("2001:2::/48", "benchmarking"),
    _range("2001:db8::/32", "documentation"),
    _range("2001::/23", "IETF protocol-assignment"),
    _range("2002::/16", "6to4", embedded=_six_to_four),
    _range("3fff::/20", "documentation"),
    _range("fc00::/7", "unique-local", private=True),
    _range("fe80::/10", "link-local"),
    _range("fec0::/10", "site-local", private=True),
    _range("ff00::/8", "multicast"),
)
# Only 2000::/3 is assigned as global unicast; everything else is reserved by the IETF.
_GLOBAL_UNICAST = IPv6Network("2000::/3")


class BlockedAddress(ValueError):
    """An address the policy refuses; the message names the range it falls in, e.g.
    ``10.0.0.5 is in a private range (10.0.0.0/8)``."""

    def __init__(self, address: IPAddress, network: IPNetwork, label: str, why: str) -> None:
        super().__init__(f"{address} is {why}")
        self.address = address
        self.network = network
        self.label = label
        self.why = why


class RefusedConnection(httpcore.ConnectError):
    """No address of a host may be connected to; httpx raises it as `httpx.ConnectError`
    (this exception is its ``__cause__``), with the same message."""

    def __init__(self, message: str, blocked: Sequence[BlockedAddress]) -> None:
        super().__init__(message)
        self.blocked = tuple(blocked)


def _in_range(rng: _Range) -> str:
    article = "an" if rng.label.startswith(("unspecified", "IETF")) else "a"
    return f"in {article} {rng.label} range ({rng.network})"


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a webhook may connect to.

    Everything but public unicast is refused; ``allow_private`` (test mode) lets private,
    loopback, CGNAT and unique-local networks through; ``allow_cidrs`` (the operator's
    allow-list) lets any network through.
    """

    allow_private: bool = False
    allow_cidrs: Sequence[str] = ()
    _allowed: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        for cidr in self.allow_cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{ALLOW_CIDRS_SETTING} holds {cidr!r}, which is not a CIDR such as "
                    "10.20.0.0/16 or fd00:1::/64"
                ) from None
        object.__setattr__(self, "_allowed", tuple(networks))

    @classmethod
    def for_mode(cls, mode: str, allow_cidrs: Sequence[str] = ()) -> AddressPolicy:
        """The policy for an endpoint of ``mode`` (``test`` may reach private networks)."""
        if mode not in {"test", "live"}:
            raise ValueError(f"mode must be 'test' or 'live', not {mode!r}")
        return cls(allow_private=mode == "test", allow_cidrs=tuple(allow_cidrs))

    def check(self, ip: IPAddress) -> None:
        """Raise `BlockedAddress` unless ``ip`` may be connected to."""
        mapped = ip.ipv4_mapped if isinstance(ip, IPv6Address) else None
        if mapped is not None:
            # ::ffff:a.b.c.d reaches a.b.c.d: judge the IPv4 address it stands for.
            try:
                self.check(mapped)
            except BlockedAddress as exc:
                why = f"IPv4-mapped {mapped}, which is {exc.why}"
                raise BlockedAddress(ip, exc.network, exc.label, why) from None
            return
        if self._allows(ip):
            return
        ranges = _IPV4_RANGES if isinstance(ip, IPv4Address) else _IPV6_RANGES
        for rng in ranges:
            if ip not in rng.network:
                continue
            if rng.embedded is not None and isinstance(ip, IPv6Address):
                inner = rng.embedded(ip)
                try:
                    self.check(inner)
                except BlockedAddress as exc:
                    why = f"{_in_range(rng)} carrying {inner}, which is {exc.why}"
                    raise BlockedAddress(ip, exc.network, exc.label, why) from None
                return
            if rng.private and self.allow_private:
                return
            raise BlockedAddress(ip, rng.network, rng.label, _in_range(rng))
        if isinstance(ip, IPv6Address) and ip not in _GLOBAL_UNICAST:
            block = IPv6Network(f"{ip}/3", strict=False)
            raise BlockedAddress(ip, block, "reserved", f"in a reserved range ({block})")

    def _allows(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._allowed)


def normalise_host(host: str) -> str:
    """The host as a resolver reads it: lower case, ASCII (IDNA), without the one trailing
    dot that makes a name absolute (``127.0.0.1.`` is 127.0.0.1 to getaddrinfo)."""
    host = host.lower().removesuffix(".")
    if ":" in host:  # an IPv6 literal: no labels to encode
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host  # not a valid name: the host name check says so


def host_address(host: str) -> IPAddress | None:
    """The address a host names by itself, if it does (see `normalise_host`, `_literal_ip`);
    both the check at creation and the guard at connection judge hosts through this."""
    return _literal_ip(normalise_host(host))


def is_host_name(raw_host: str) -> bool:
    """True when a URL's ASCII host (IDNA-encoded, as `httpx.URL.raw_host` gives it) is a
    well-formed DNS name."""
    return _HOSTNAME_RE.fullmatch(raw_host) is not None


def _ends_in_a_number(host: str) -> bool:
    """True when the last label is numeric: the host can only be an IPv4 address (as the
    WHATWG URL standard reads it), never a name."""
    last = host.rpartition(".")[2]
    return bool(re.fullmatch(r"[0-9]+|0x[0-9a-f]*", last))


def _literal_ip(host: str) -> IPAddress | None:
    """The address a normalised host names by itself: a literal, or a legacy numeric form
    such as ``2130706433`` or ``0x7f.1`` that the C resolver would read as 127.0.0.1."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not re.fullmatch(r"[0-9a-fA-Fx.]+", host) or not host[0].isdigit():
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_legacy(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def check_url(url: str, *, live: bool, allow_cidrs: Sequence[str] = ()) -> str | None:
    """What is wrong with ``url`` as a webhook endpoint, or None.

    Live mode needs ``https://``; no mode accepts credentials in the URL. A literal IP is
    judged by the mode's `AddressPolicy` now; host names are judged when connecting.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"the URL is not valid: {exc}"
    scheme = parsed.scheme
    if scheme not in {"https", "http"}:
        allowed = "https://" if live else "https:// or http://"
        return f"a webhook URL must start with {allowed}, not {url[:40]!r}"
    if live and scheme != "https":
        return "live webhooks need an https:// URL (http:// is for test-mode endpoints only)"
    if parsed.userinfo:
        return (
            "the URL may not carry a user name or password (they would be stored in plain "
            "text); send credentials in a custom header of the endpoint instead"
        )
    host = parsed.host
    if not host:
        return "the URL has no host; give one such as https://hooks.example.com/crosspost"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"the URL's port {parsed.port} is not between 1 and 65535"
    ip = host_address(host)
    if ip is None:
        if not _HOSTNAME_RE.fullmatch(parsed.raw_host.decode("ascii")):
            return f"the URL's host {host!r} is not a valid host name"
        name = normalise_host(host)
        if _ends_in_a_number(name):
            return (
                f"the URL's host {host!r} ends in a number, so it can only be an IPv4 "
                "address, and it is not a valid one"
            )
        if live and (name == "localhost" or name.endswith(".localhost")):
            return f"live webhooks may not target {host}, which is this machine (loopback)"
        return None
    try:
        AddressPolicy.for_mode("live" if live else "test", allow_cidrs).check(ip)
    except BlockedAddress as exc:
        # A legacy numeric host (2130706433) is shown with the address it stands for.
        shown = f"{host} means {ip}, which is {exc.why}" if _is_legacy(host) else str(exc)
        if not live:
            return f"the URL's address is refused: {shown}"
        return (
            f"the URL's address is refused: {shown}; live webhooks reach public addresses "
            f"only (an operator may allow a network with {ALLOW_CIDRS_SETTING})"
        )
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The machine's resolver (``getaddrinfo`` in a worker thread), in its preference order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


KEEPALIVE_SECONDS = 5.0  # an idle connection is closed after this long
_READ_LIMIT = 256 * 1024  # bytes received and not yet read before the socket is paused
_COALESCE = 64 * 1024  # bytes of writes held back, at most, to go out in one send


class _Protocol(asyncio.Protocol):
    """Collects what a connection receives for `_AsyncioStream.read`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # EOF or connection lost: nothing more will arrive
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # TCP, always

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_LIMIT and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.transport is not None and not self.closed and len(self.buffer) <= _READ_LIMIT:
            self.transport.resume_reading()
        return data

    @property
    def paused(self) -> bool:
        return self._paused

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def _expire(future: asyncio.Future[None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


async def _wait(future: asyncio.Future[None], timeout: float | None, error: Exception) -> None:
    # A timer per wait, not a task or a cancel scope: the send path waits several times a
    # request, and this is the cheapest bounded wait asyncio offers.
    timer = None
    if timeout is not None:
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()


class _AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection on an asyncio transport (TCP, or TLS over it after `start_tls`).

    Writes are held until the next read (or until `_COALESCE` bytes are waiting): httpcore
    writes a request's head and body apart, and joined they go out in one send, one packet.
    """

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pending: list[bytes] = []
        self._pending_size = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if self._pending:
            self._send_pending()  # a failure shows as the read's: the connection is gone
        if not protocol.buffer and not protocol.closed:
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.waiter, timeout, httpcore.ReadTimeout("read timed out"))
            finally:
                protocol.waiter = None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing() or protocol.closed:
            raise httpcore.WriteError(str(protocol.error or "the connection is closed"))
        self._pending.append(buffer)
        self._pending_size += len(buffer)
        if self._pending_size < _COALESCE:
            return
        self._send_pending()
        if protocol.paused:  # the kernel's buffer is full: wait until it drains
            protocol.drained = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.drained, timeout, httpcore.WriteTimeout("write timed out"))
            finally:
                protocol.drained = None
            if protocol.error is not None:
                raise httpcore.WriteError(str(protocol.error))

    def _send_pending(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    async def aclose(self) -> None:
        self._pending.clear()  # a request never completed: nothing of it is worth sending
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return _AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection with data or an EOF waiting was closed (or broken) by the
            # server. What the loop has read tells most; the socket tells the rest, when the
            # close reached the kernel while the loop was busy (one poll, a few µs).
            if self._protocol.buffer or self._protocol.closed:
                return True
            return _socket_readable(self._transport.get_extra_info("socket"))
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        name = names.get(info)
        return None if name is None else self._transport.get_extra_info(name)


def _socket_readable(sock: Any) -> bool:
    if sock is None or sock.fileno() == -1:
        return True  # gone: as good as closed
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio transports (asyncio only, unlike anyio's)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect (asyncio sets TCP_NODELAY), then apply `socket_options`."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(
                f"connecting to {host}:{port} took longer than {timeout} s"
            ) from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        stream = _AsyncioStream(transport, protocol)
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return stream

    # No connect_unix_socket: httpcore's base refuses it, and GuardedBackend never asks.

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running loop."""
        await asyncio.sleep(seconds)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows.

    The host is resolved here, at connect time, and the socket opened to the checked
    address; httpcore then runs TLS over it with the original host name as SNI.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolver
        self._inner = inner if inner is not None else AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, drop refused addresses, connect to the first allowed one."""
        try:
            with anyio.fail_after(timeout):
                *others, last = await self._allowed_addresses(host, port)
                for ip in others:
                    try:
                        return await self._inner.connect_tcp(
                            str(ip),
                            port,
                            local_address=local_address,
                            socket_options=socket_options,
                        )
                    except httpcore.ConnectError:
                        continue  # the host's next address may answer, as browsers do
                return await self._inner.connect_tcp(
                    str(last), port, local_address=local_address, socket_options=socket_options
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(
                f"connecting to {host}:{port} took longer than {timeout} s"
            ) from None

    async def _allowed_addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = host_address(host)
        if literal is not None:
            addresses: Sequence[IPAddress] = [literal]
        else:
            try:
                addresses = await self._resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        allowed: list[IPAddress] = []
        blocked: list[BlockedAddress] = []
        for ip in dict.fromkeys(addresses):
            try:
                self.policy.check(ip)
            except BlockedAddress as exc:
                blocked.append(exc)
            else:
                allowed.append(ip)
        if allowed:
            return allowed
        if literal is not None:
            message = f"refused: {blocked[0]}"
        elif len(blocked) == 1:
            message = f"refused: {host} resolves to {blocked[0].address}, which is {blocked[0].why}"
        else:
            message = f"refused: every address of {host} is blocked: " + "; ".join(
                str(exc) for exc in blocked
            )
        if not self.policy.allow_private:
            message += "; live webhooks reach public addresses only"
        raise RefusedConnection(message, blocked)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Webhooks never go to a Unix socket."""
        raise httpcore.ConnectError(f"refused: webhooks do not connect to Unix sockets ({path})")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        await self._inner.sleep(seconds)


def guarded_pool(
    policy: AddressPolicy,
    *,
    max_connections: int = 200,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
) -> httpcore.AsyncConnectionPool:
    """httpcore's connection pool with every connection guarded by ``policy``: HTTP/1.1
    keep-alive per destination, no proxy, and (being httpcore) no redirects or cookies."""
    return httpcore.AsyncConnectionPool(
        ssl_context=ssl_context if ssl_context is not None else httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(policy, resolver=resolver),
    )


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, error mapping) over a guarded pool."""

    def __init__(self, pool: httpcore.AsyncConnectionPool, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx 0.27/0.28 offer no network_backend argument; the pool they build is swapped
        # for a guarded one.
        self._pool = pool


def safe_async_client(
    policy: AddressPolicy,
    *,
    timeout: float,
    max_connections: int = 200,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The delivery client: every connection guarded by ``policy``, no redirects, no proxy
    from the environment, HTTP/1.1 keep-alive pooled per destination."""
    context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
    pool = guarded_pool(
        policy, max_connections=max_connections, resolver=resolver, ssl_context=context
    )
    return httpx.AsyncClient(
        transport=_GuardedTransport(pool, context),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
