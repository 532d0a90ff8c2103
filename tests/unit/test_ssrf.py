"""SSRF protection: the address policy for every range, the static URL check, and refusals
at connect time over real sockets on loopback.

The only stand-in is the DNS resolver (the outside world), injected into the backend to
make a name resolve to a chosen address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.webhooks.ssrf import (
    AddressPolicy,
    BlockedAddress,
    GuardedBackend,
    IPAddress,
    RefusedConnection,
    check_url,
    normalise_host,
    safe_async_client,
)

LIVE = AddressPolicy()
TEST = AddressPolicy(allow_private=True)

# (address, the range's label, reachable in test mode)
BLOCKED = [
    ("0.0.0.0", "unspecified", False),  # noqa: S104 - an address under test, not a bind
    ("0.1.2.3", "unspecified", False),
    ("10.0.0.5", "private", True),
    ("10.255.255.255", "private", True),
    ("172.16.0.1", "private", True),
    ("172.31.255.255", "private", True),
    ("192.168.1.1", "private", True),
    ("100.64.0.1", "shared-address (CGNAT)", True),
    ("100.127.255.255", "shared-address (CGNAT)", True),
    ("127.0.0.1", "loopback", True),
    ("127.255.255.254", "loopback", True),
    ("169.254.169.254", "link-local", False),
    ("192.0.0.8", "IETF protocol-assignment", False),
    ("192.0.2.1", "documentation", False),
    ("198.51.100.7", "documentation", False),
    ("203.0.113.9", "documentation", False),
    ("192.88.99.1", "deprecated 6to4-relay", False),
    ("198.18.0.1", "benchmarking", False),
    ("198.19.255.255", "benchmarking", False),
    ("224.0.0.1", "multicast", False),
    ("239.255.255.250", "multicast", False),
    ("255.255.255.255", "broadcast", False),
    ("240.0.0.1", "reserved", False),
    ("::", "unspecified", False),
    ("::1", "loopback", True),
    ("::1.2.3.4", "reserved (IPv4-compatible)", False),
    ("fe80::1", "link-local", False),
    ("febf:ffff::1", "link-local", False),
    ("fc00::1", "unique-local", True),
    ("fd12:3456::1", "unique-local", True),
    ("fec0::1", "site-local", True),
    ("ff02::1", "multicast", False),
    ("ff0e::101", "multicast", False),
    ("2001:db8::1", "documentation", False),
    ("3fff::1", "documentation", False),
    ("2001:2::1", "benchmarking", False),
    ("2001::1", "Teredo", False),
    ("2001:10::1", "IETF protocol-assignment", False),
    ("100::1", "discard-only", False),
    ("64:ff9b:1::a", "local-use NAT64", True),
    ("4000::1", "reserved", False),
    ("5f00::1", "reserved", False),
    # IPv4 inside IPv6: mapped, NAT64 and 6to4 are judged by the IPv4 address they carry.
    ("::ffff:10.0.0.5", "private", True),
    ("::ffff:127.0.0.1", "loopback", True),
    ("::ffff:169.254.169.254", "link-local", False),
    ("::ffff:100.64.0.1", "shared-address (CGNAT)", True),
    ("::ffff:0.0.0.0", "unspecified", False),
    ("64:ff9b::10.0.0.5", "private", True),
    ("64:ff9b::127.0.0.1", "loopback", True),
    ("64:ff9b::169.254.169.254", "link-local", False),
    ("2002:a00:5::1", "private", True),  # 6to4 of 10.0.0.5
    ("2002:7f00:1::", "loopback", True),  # 6to4 of 127.0.0.1
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "172.15.255.255",
    "172.32.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "198.17.255.255",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "label", "in_test"), BLOCKED)
def test_live_policy_refuses_every_special_range(address: str, label: str, in_test: bool) -> None:
    ip = ipaddress.ip_address(address)
    with pytest.raises(BlockedAddress) as caught:
        LIVE.check(ip)
    assert caught.value.label == label
    assert caught.value.address == ip
    assert str(caught.value).startswith(f"{ip} is ")
    assert f"{label} range ({caught.value.network})" in str(caught.value)


@pytest.mark.parametrize(("address", "label", "in_test"), BLOCKED)
def test_test_policy_allows_only_private_networks(address: str, label: str, in_test: bool) -> None:
    ip = ipaddress.ip_address(address)
    if in_test:
        TEST.check(ip)
    else:
        with pytest.raises(BlockedAddress, match=label.replace("(", r"\(").replace(")", r"\)")):
            TEST.check(ip)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    LIVE.check(ipaddress.ip_address(address))


def test_messages_name_the_address_and_the_range() -> None:
    cases = {
        "10.0.0.5": "10.0.0.5 is in a private range (10.0.0.0/8)",
        "::ffff:10.0.0.5": "is IPv4-mapped 10.0.0.5, which is in a private range (10.0.0.0/8)",
        "64:ff9b::a00:5": (
            "64:ff9b::a00:5 is in a NAT64 range (64:ff9b::/96) carrying 10.0.0.5, "
            "which is in a private range (10.0.0.0/8)"
        ),
        "fe80::1": "fe80::1 is in a link-local range (fe80::/10)",
    }
    for address, message in cases.items():
        with pytest.raises(BlockedAddress) as caught:
            LIVE.check(ipaddress.ip_address(address))
        assert message in str(caught.value)


def test_the_allow_list_lets_a_network_through() -> None:
    policy = AddressPolicy(allow_cidrs=["10.20.0.0/16", "fd00:1::/64", " 169.254.1.0/24 "])
    for address in ["10.20.1.2", "::ffff:10.20.1.2", "64:ff9b::10.20.0.9", "fd00:1::5"]:
        policy.check(ipaddress.ip_address(address))
    policy.check(ipaddress.ip_address("169.254.1.1"))
    for address in ["10.21.0.1", "fd00:2::5", "127.0.0.1", "169.254.169.254"]:
        with pytest.raises(BlockedAddress):
            policy.check(ipaddress.ip_address(address))
    # A host address written with its prefix is taken as its network.
    AddressPolicy(allow_cidrs=["10.0.0.7/24"]).check(ipaddress.ip_address("10.0.0.200"))


def test_a_bad_allow_list_entry_names_the_setting() -> None:
    with pytest.raises(ValueError, match="CROSSPOST_WEBHOOK_ALLOW_CIDRS holds 'ten/8'"):
        AddressPolicy(allow_cidrs=["ten/8"])


def test_policy_for_mode() -> None:
    assert AddressPolicy.for_mode("test") == AddressPolicy(allow_private=True)
    assert AddressPolicy.for_mode("live", ["10.0.0.0/8"]) == AddressPolicy(
        allow_cidrs=("10.0.0.0/8",)
    )
    with pytest.raises(ValueError, match="mode must be"):
        AddressPolicy.for_mode("sandbox")


# --- check_url: the static check at endpoint creation ---


@pytest.mark.parametrize(
    ("url", "live", "problem"),
    [
        ("https://hooks.example.com/crosspost", True, None),
        ("https://hooks.example.com:8443/x?y=1", True, None),
        ("https://8.8.8.8/hook", True, None),
        ("https://[2606:4700:4700::1111]/hook", True, None),
        ("http://hooks.example.com/crosspost", True, "need an https:// URL"),
        ("http://hooks.example.com/crosspost", False, None),
        ("http://127.0.0.1:8000/hook", False, None),
        ("http://localhost:8000/hook", False, None),
        ("ftp://hooks.example.com/", True, "must start with https://, not 'ftp:"),
        ("ftp://hooks.example.com/", False, "must start with https:// or http://, not"),
        ("hooks.example.com/crosspost", True, "must start with https://, not"),
        ("//hooks.example.com/crosspost", False, "must start with https:// or http://"),
        ("https://user:pw@hooks.example.com/", True, "user name or password"),
        ("http://user@127.0.0.1/", False, "user name or password"),
        ("https:///path-only", True, "has no host"),
        ("https://hooks.example.com:99999/", True, "port 99999"),
        ("https://exa mple.com/", True, "not a valid host name"),
        ("https://bad_-.example..com/", True, "not a valid host name"),
        ("https://[::1/", True, "not valid"),
        ("https://localhost/", True, "loopback"),
        ("https://api.localhost./", True, "loopback"),
        ("https://10.0.0.5/", True, "10.0.0.5 is in a private range (10.0.0.0/8)"),
        ("https://127.0.0.1/", True, "loopback range"),
        ("https://169.254.169.254/latest/meta-data", True, "link-local range"),
        ("http://169.254.169.254/latest/meta-data", False, "link-local range"),
        ("https://[::1]/", True, "loopback range"),
        ("https://[::ffff:10.0.0.5]/", True, "is IPv4-mapped 10.0.0.5, which is in a private"),
        ("https://[64:ff9b::10.0.0.5]/", True, "NAT64"),
        ("https://2130706433/", True, "2130706433 means 127.0.0.1"),
        ("https://0x7f.1/", True, "0x7f.1 means 127.0.0.1"),
        ("https://10.1/", True, "10.1 means 10.0.0.1"),
    ],
)
def test_check_url(url: str, live: bool, problem: str | None) -> None:
    found = check_url(url, live=live)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_check_url_says_how_to_allow_a_private_network() -> None:
    found = check_url("https://10.20.0.5/hook", live=True)
    assert found is not None and "CROSSPOST_WEBHOOK_ALLOW_CIDRS" in found
    assert check_url("https://10.20.0.5/hook", live=True, allow_cidrs=["10.20.0.0/16"]) is None


# Every way of writing a non-public address: (host as in the URL, the address it means).
ADDRESS_FORMS = [
    ("127.0.0.1.", "127.0.0.1"),  # trailing dot: an absolute name, still the literal
    ("127.0.0.1", "127.0.0.1"),
    ("127.1.", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),  # decimal
    ("2130706433.", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),  # hex
    ("0X7F.0.0.1.", "127.0.0.1"),
    ("0177.0.0.1.", "127.0.0.1"),  # octal (httpx itself refuses it without the dot)
    ("0.", "0.0.0.0"),  # noqa: S104 - an address under test, not a bind
    ("10.0.0.5.", "10.0.0.5"),
    ("169.254.169.254.", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("[::1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),  # IPv4-mapped
    ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe"),  # NAT64 of the metadata address
    ("127\u30020\u30020\u30021", "127.0.0.1"),  # ideographic full stops (IDNA)
]


@pytest.mark.parametrize(("host", "address"), ADDRESS_FORMS)
def test_every_form_of_a_blocked_address_is_refused_at_creation(host: str, address: str) -> None:
    """Live endpoints: each spelling of a non-public address (trailing dot, case, decimal,
    octal, hex, IPv4-mapped, IDNA dots) is refused by the static check, naming the address."""
    found = check_url(f"https://{host}:8443/hook", live=True)
    assert found is not None and "refused" in found, found
    assert address in found, found


@pytest.mark.parametrize(("host", "address"), ADDRESS_FORMS)
def test_the_connect_time_guard_reads_each_form_as_the_same_address(
    host: str, address: str
) -> None:
    """The guard judges the same normalised literal (no DNS lookup, no connection), so the
    two checks cannot disagree on any form."""
    raw_host = httpx.URL(f"https://{host}/").raw_host.decode("ascii")  # what httpcore passes
    resolver, recorder = StubResolver({}), RecordingBackend()
    backend = GuardedBackend(LIVE, resolver=resolver, inner=recorder)
    with pytest.raises(RefusedConnection) as caught:
        asyncio.run(backend.connect_tcp(raw_host, 8443, timeout=5))
    assert [str(b.address) for b in caught.value.blocked] == [address]
    assert resolver.lookups == [] and recorder.connects == []


def test_a_trailing_dot_is_refused_in_test_mode_too() -> None:
    """Test mode may reach loopback, never the metadata address, however it is written."""
    assert check_url("http://127.0.0.1.:8000/hook", live=False) is None
    found = check_url("http://169.254.169.254./latest/meta-data", live=False)
    assert found is not None and "link-local" in found


@pytest.mark.parametrize("host", ["1.2.3.4.5", "hooks.example.123", "a.0x"])
def test_a_host_ending_in_a_number_must_be_a_valid_address(host: str) -> None:
    """A name whose last label is numeric can only be an IPv4 address; an invalid one is
    refused at creation instead of being left to the resolver."""
    found = check_url(f"https://{host}/hook", live=True)
    assert found is not None and "ends in a number" in found, found


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Hooks.Example.COM.", "hooks.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("127.0.0.1.", "127.0.0.1"),
        ("::FFFF:7F00:1", "::ffff:7f00:1"),
        ("bad..name", "bad..name"),
    ],
)
def test_normalise_host(host: str, normal: str) -> None:
    """One trailing dot dropped, lower case, IDNA; an invalid name is left for the name check."""
    assert normalise_host(host) == normal


# --- connect time, over real sockets ---


@dataclass
class Receiver:
    """A loopback HTTP receiver that records what reached it."""

    server: RunningServer
    hits: list[dict[str, str]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hits: list[dict[str, str]] = []

    async def hook(request: Request) -> Response:
        client = request.client
        hits.append(
            {
                "path": request.url.path,
                "host": request.headers.get("host", ""),
                "peer_port": str(client.port if client else ""),
            }
        )
        return JSONResponse({"ok": True})

    async def moved(request: Request) -> Response:
        return RedirectResponse("/hook", status_code=307)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST", "GET"]), Route("/moved", moved)])
    with serve_in_thread(app) as server:
        yield Receiver(server, hits)


class StubResolver:
    """Answers each name from a script of answers, one per lookup (the last one repeats)."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self._answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        script = self._answers.get(host)
        if script is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = script[min(self.lookups.count(host), len(script) - 1)]
        self.lookups.append(host)
        return [ipaddress.ip_address(a) for a in answer]


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The real AnyIO backend, noting every address a socket is opened to."""

    def __init__(self) -> None:
        self.connects: list[str] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        return await self._real.connect_tcp(
            host, port, timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def refusal(exc: BaseException) -> RefusedConnection:
    cause = exc.__cause__
    assert isinstance(cause, RefusedConnection), repr(exc)
    return cause


def test_live_client_refuses_loopback_by_literal_address(receiver: Receiver) -> None:
    async def scenario() -> httpx.ConnectError:
        async with safe_async_client(LIVE, timeout=5) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
            return caught.value

    error = asyncio.run(scenario())
    assert str(error).startswith("refused: 127.0.0.1 is in a loopback range (127.0.0.0/8)")
    assert [b.label for b in refusal(error).blocked] == ["loopback"]
    assert receiver.hits == []


def test_live_client_refuses_a_name_resolving_to_loopback(receiver: Receiver) -> None:
    async def scenario() -> httpx.ConnectError:
        async with safe_async_client(LIVE, timeout=5) as client:  # the machine's resolver
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"http://localhost:{receiver.port}/hook", content=b"{}")
            return caught.value

    error = asyncio.run(scenario())
    assert str(error).startswith("refused:")
    assert "localhost" in str(error) and "loopback range" in str(error)
    assert {b.label for b in refusal(error).blocked} == {"loopback"}
    assert receiver.hits == []


def test_test_client_reaches_loopback_by_address_and_name(receiver: Receiver) -> None:
    async def scenario() -> list[int]:
        async with safe_async_client(TEST, timeout=5) as client:
            first = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
            second = await client.post(f"http://localhost:{receiver.port}/hook", content=b"{}")
            return [first.status_code, second.status_code]

    assert asyncio.run(scenario()) == [200, 200]
    assert [hit["host"] for hit in receiver.hits] == [
        f"127.0.0.1:{receiver.port}",
        f"localhost:{receiver.port}",  # the Host header is the URL's, not the address's
    ]


def test_the_allow_list_opens_a_network_to_the_live_client(receiver: Receiver) -> None:
    async def scenario() -> int:
        policy = AddressPolicy(allow_cidrs=["127.0.0.0/8"])
        async with safe_async_client(policy, timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{receiver.port}/hook")
            return response.status_code

    assert asyncio.run(scenario()) == 200
    assert len(receiver.hits) == 1


def test_a_name_resolving_to_a_private_address_is_refused_without_connecting() -> None:
    resolver = StubResolver({"intranet.example": [["10.0.0.1"]]})
    recorder = RecordingBackend()
    backend = GuardedBackend(LIVE, resolver=resolver, inner=recorder)

    with pytest.raises(RefusedConnection) as caught:
        asyncio.run(backend.connect_tcp("intranet.example", 443, timeout=5))
    assert str(caught.value) == (
        "refused: intranet.example resolves to 10.0.0.1, which is in a private range "
        "(10.0.0.0/8); live webhooks reach public addresses only"
    )
    assert recorder.connects == []
    assert resolver.lookups == ["intranet.example"]


def test_dns_rebinding_gains_nothing(receiver: Receiver) -> None:
    # The name looks public when someone checks it, then points at loopback: only the
    # lookup made when connecting counts, and that one is refused.
    resolver = StubResolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})

    async def scenario() -> httpx.ConnectError:
        looked_up = await resolver("rebind.example", receiver.port)
        LIVE.check(looked_up[0])  # passes: public
        async with safe_async_client(LIVE, timeout=5, resolver=resolver) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"http://rebind.example:{receiver.port}/hook", content=b"{}")
            return caught.value

    error = asyncio.run(scenario())
    assert "rebind.example resolves to 127.0.0.1, which is in a loopback range" in str(error)
    assert resolver.lookups == ["rebind.example", "rebind.example"]
    assert receiver.hits == []


def test_the_address_checked_is_the_address_connected_to(receiver: Receiver) -> None:
    # 127.0.0.2 stands for a public address (allowed, nothing listens there); a second
    # lookup would answer with the receiver's loopback address. A guard that looked up once
    # to check and again to connect would reach the receiver.
    resolver = StubResolver({"rebind.example": [["127.0.0.2"], ["127.0.0.1"]]})
    recorder = RecordingBackend()
    policy = AddressPolicy(allow_cidrs=["127.0.0.2/32"])
    backend = GuardedBackend(policy, resolver=resolver, inner=recorder)

    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("rebind.example", receiver.port, timeout=5))
    assert resolver.lookups == ["rebind.example"]
    assert recorder.connects == ["127.0.0.2"]
    assert receiver.hits == []


def test_blocked_addresses_are_dropped_and_an_allowed_one_used(receiver: Receiver) -> None:
    resolver = StubResolver({"mixed.example": [["10.0.0.1", "169.254.169.254", "127.0.0.1"]]})
    recorder = RecordingBackend()
    backend = GuardedBackend(
        AddressPolicy(allow_cidrs=["127.0.0.1/32"]), resolver=resolver, inner=recorder
    )

    async def scenario() -> None:
        stream = await backend.connect_tcp("mixed.example", receiver.port, timeout=5)
        await stream.aclose()

    asyncio.run(scenario())
    assert recorder.connects == ["127.0.0.1"]


def test_the_next_allowed_address_is_tried_when_one_fails(receiver: Receiver) -> None:
    # The receiver listens on 127.0.0.1 only, so connecting to 127.0.0.2 is refused.
    resolver = StubResolver({"two.example": [["127.0.0.2", "127.0.0.1"]]})
    recorder = RecordingBackend()
    backend = GuardedBackend(TEST, resolver=resolver, inner=recorder)

    async def scenario() -> None:
        stream = await backend.connect_tcp("two.example", receiver.port, timeout=5)
        await stream.aclose()

    asyncio.run(scenario())
    assert recorder.connects == ["127.0.0.2", "127.0.0.1"]


def test_every_address_blocked_lists_them_all() -> None:
    resolver = StubResolver({"internal.example": [["10.0.0.1", "fd00::1"]]})
    backend = GuardedBackend(LIVE, resolver=resolver)
    with pytest.raises(RefusedConnection) as caught:
        asyncio.run(backend.connect_tcp("internal.example", 443, timeout=5))
    message = str(caught.value)
    assert message.startswith("refused: every address of internal.example is blocked:")
    assert "10.0.0.1 is in a private range" in message
    assert "fd00::1 is in a unique-local range (fc00::/7)" in message
    assert [b.label for b in caught.value.blocked] == ["private", "unique-local"]


def test_resolution_failure_and_timeout_are_connect_errors() -> None:
    hang = asyncio.Event()

    async def slow(host: str, port: int) -> list[IPAddress]:
        await hang.wait()  # never set: the connect timeout must cut the lookup short
        return []

    async def scenario() -> tuple[BaseException, BaseException, BaseException]:
        resolver = StubResolver({})
        async with safe_async_client(LIVE, timeout=5, resolver=resolver) as client:
            with pytest.raises(httpx.ConnectError) as unknown:
                await client.get("https://nowhere.example/hook")
        empty = StubResolver({"empty.example": [[]]})
        async with safe_async_client(LIVE, timeout=5, resolver=empty) as client:
            with pytest.raises(httpx.ConnectError) as no_address:
                await client.get("https://empty.example/hook")
        async with safe_async_client(LIVE, timeout=0.2, resolver=slow) as client:
            with pytest.raises(httpx.ConnectTimeout) as timed_out:
                await client.get("https://slow.example/hook")
        return unknown.value, no_address.value, timed_out.value

    unknown, no_address, timed_out = asyncio.run(scenario())
    assert "cannot resolve nowhere.example" in str(unknown)
    assert "cannot resolve empty.example: no address" in str(no_address)
    assert "slow.example:443 took longer than 0.2 s" in str(timed_out)


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    async def scenario() -> httpx.Response:
        async with safe_async_client(TEST, timeout=5) as client:
            return await client.get(f"http://127.0.0.1:{receiver.port}/moved")

    response = asyncio.run(scenario())
    assert response.status_code == 307
    assert receiver.hits == []


def test_proxies_from_the_environment_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect for us, past the guard; the delivery client must not use one.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def scenario() -> int:
        async with safe_async_client(TEST, timeout=5) as client:
            return (await client.get(f"http://127.0.0.1:{receiver.port}/hook")).status_code

    assert asyncio.run(scenario()) == 200
    assert len(receiver.hits) == 1


def test_connections_are_reused_per_destination(receiver: Receiver) -> None:
    async def scenario() -> None:
        async with safe_async_client(TEST, timeout=5) as client:
            for _ in range(5):
                response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"")
                assert response.status_code == 200

    asyncio.run(scenario())
    assert len({hit["peer_port"] for hit in receiver.hits}) == 1  # one TCP connection


# --- TLS: the certificate and SNI are the host name's, though the socket went to an IP ---


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def _tls_receiver(
    cert_pem: bytes, key_pem: bytes, tmp: Path, seen: dict[str, list[str]]
) -> asyncio.Server:
    """A minimal HTTPS/1.1 server on 127.0.0.1 noting the SNI name and Host header."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    (tmp / "cert.pem").write_bytes(cert_pem)
    (tmp / "key.pem").write_bytes(key_pem)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")

    def note_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        seen["sni"].append(name or "")

    context.sni_callback = note_sni

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("host:"):
                seen["host"].append(line.split(":", 1)[1].strip())
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


def test_tls_verifies_the_host_name_over_the_checked_address(tmp_path: Path) -> None:
    cert_pem, key_pem = _self_signed("hooks.example.test")
    trust = ssl.create_default_context(cadata=cert_pem.decode())
    seen: dict[str, list[str]] = {"sni": [], "host": []}
    resolver = StubResolver(
        {"hooks.example.test": [["127.0.0.1"]], "other.example.test": [["127.0.0.1"]]}
    )

    async def scenario() -> tuple[int, int, BaseException]:
        server = await _tls_receiver(cert_pem, key_pem, tmp_path, seen)
        port = server.sockets[0].getsockname()[1]
        try:
            async with safe_async_client(
                TEST, timeout=5, resolver=resolver, ssl_context=trust
            ) as client:
                ok = await client.post(f"https://hooks.example.test:{port}/hook", content=b"{}")
                with pytest.raises(httpx.ConnectError) as wrong_name:
                    await client.post(f"https://other.example.test:{port}/hook", content=b"{}")
            return port, ok.status_code, wrong_name.value
        finally:
            server.close()
            await server.wait_closed()

    port, status, wrong_name = asyncio.run(scenario())
    assert status == 204
    assert seen["sni"] == ["hooks.example.test", "other.example.test"]
    assert seen["host"] == [f"hooks.example.test:{port}"]  # the refused one sent nothing
    assert "certificate verify failed" in str(wrong_name)
