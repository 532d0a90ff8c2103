"""Is a request well formed: percent-encoding and UTF-8 in its path, query and form body;
UTF-8, syntax, nesting and text a database can store in its JSON body. Each flaw found
says where it is and what to send instead."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from crosspost.domain.bounds import INT64_MAX

# Deeper JSON is refused (`json_too_deep`): no body of ours nests past a handful of levels,
# and a limit far below the parser's recursion limit keeps every refusal the same answer.
MAX_JSON_DEPTH = 32
# Python's own limit on digits in an integer literal (int_max_str_digits).
_MAX_DIGITS = 4300
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_UTF8_HINT = "percent-encode the UTF-8 bytes of each character (é is %C3%A9)"


@dataclass(frozen=True)
class Flaw:
    """Why a request is refused: an HTTP status, a stable code and what to change."""

    status: int
    code: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


def content_length(value: str | bytes) -> int | None:
    """A Content-Length header's value, or None when it is not a whole number. Only ASCII
    digits count (str.isdigit takes "²"), and a length past 64 bits is read as the largest
    one: it is refused as too large, never overflows a counter."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    return INT64_MAX if len(text) > len(str(INT64_MAX)) else min(int(text), INT64_MAX)


def url_flaw(raw_path: bytes, query: bytes) -> Flaw | None:
    """The first flaw of the path or of a query parameter, or None."""
    if _plain(raw_path) and _plain(query):
        return None  # nothing escaped, nothing to decode
    flaw = _component_flaw(raw_path, "the path", plus=False)
    return flaw or pairs_flaw(query, "query parameter")


def pairs_flaw(data: bytes, label: str) -> Flaw | None:
    """The first flaw of an `a=1&b=2` string (a query, or a form-encoded body), or None.
    `label` names its members in details ("query parameter", "form field")."""
    if _plain(data):
        return None
    offset = 0
    for piece in data.split(b"&"):
        name, eq, value = piece.partition(b"=")
        shown = _name(name)
        flaw = _component_flaw(name, f"the name of {label} {shown}", plus=True, base=offset)
        flaw = flaw or _component_flaw(
            value, f"{label} {shown}", plus=True, base=offset + len(name) + len(eq)
        )
        if flaw is not None:
            return flaw
        offset += len(piece) + 1
    return None


def json_flaw(body: bytes) -> Flaw | None:
    """The first flaw of a JSON body, or None when the JSON parser will take it as it is."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]  # a UTF-8 byte order mark may be ignored (RFC 8259 §8.1)
    text, flaw = _utf8_body(body)
    if flaw is not None:
        return flaw
    try:
        document = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, parse_int=_short_int
        )
    except json.JSONDecodeError as exc:
        return Flaw(
            400,
            "invalid_json",
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            {"line": exc.lineno, "column": exc.colno},
        )
    except RecursionError:
        return _too_deep(None)
    except _Refused as exc:
        return Flaw(400, "invalid_json", f"the body is not valid JSON: {exc}")
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        depth = max(d + 1 for _, d, node in _walk(document) if isinstance(node, dict | list))
        if depth > MAX_JSON_DEPTH:
            return _too_deep(depth)
    if b"\\u" in body:
        return _text_flaw(document)
    return None


def _plain(data: bytes) -> bool:
    return b"%" not in data and data.isascii()


def _name(raw: bytes) -> str:
    decoded = _unquote(raw, plus=True)[0].decode("utf-8", "replace")
    return f"`{_printable(decoded[:60])}`"


def _unquote(raw: bytes, *, plus: bool) -> tuple[bytes, list[int]]:
    """Percent-decoded bytes, and for each the offset in `raw` it was written at."""
    out = bytearray()
    where: list[int] = []
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x25 and raw[i + 1 : i + 2] and raw[i + 2 : i + 3]:
            pair = raw[i + 1 : i + 3]
            if pair[0] in _HEX and pair[1] in _HEX:
                out.append(int(pair, 16))
                where.append(i)
                i += 3
                continue
        out.append(0x20 if plus and byte == 0x2B else byte)
        where.append(i)
        i += 1
    return bytes(out), where


def _component_flaw(raw: bytes, what: str, *, plus: bool, base: int = 0) -> Flaw | None:
    if _plain(raw):
        return None
    for i, byte in enumerate(raw):
        if byte >= 0x80:
            return Flaw(
                400,
                "invalid_encoding",
                f"{what} holds the raw byte 0x{byte:02X} at offset {base + i}; URLs are ASCII: "
                + _UTF8_HINT,
            )
    bad = _BAD_ESCAPE.search(raw)
    if bad is not None:
        written = raw[bad.start() : bad.start() + 3].decode("ascii")
        return Flaw(
            400,
            "invalid_encoding",
            f"{what} holds {written!r} at offset {base + bad.start()}, which is not a "
            "percent-escape (% and two hex digits); write a literal % as %25",
        )
    decoded, where = _unquote(raw, plus=plus)
    if b"\x00" in decoded:
        return Flaw(
            400,
            "nul_character",
            f"{what} contains a NUL character (%00), which no field accepts; remove it",
        )
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = base + where[exc.start]
        return Flaw(
            400,
            "invalid_encoding",
            f"{what} is not UTF-8 once percent-decoded: the byte 0x{decoded[exc.start]:02X} "
            f"written at offset {at} {_reason(exc)}; {_UTF8_HINT}",
        )
    return None


def _reason(exc: UnicodeDecodeError) -> str:
    return "cuts a character short" if exc.reason == "unexpected end of data" else "is invalid"


def _utf8_body(body: bytes) -> tuple[str, Flaw | None]:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", Flaw(
            400,
            "invalid_encoding",
            "the body starts with a UTF-16 or UTF-32 byte order mark; send JSON as UTF-8",
        )
    nul = body.find(b"\x00")
    if nul >= 0:
        return "", Flaw(
            400,
            "invalid_encoding",
            f"the body holds a NUL byte at offset {nul} (UTF-16 or UTF-32 text does; JSON "
            "never does): send JSON as UTF-8, and write a NUL inside a string as \\u0000",
            {"offset": nul},
        )
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", Flaw(
            400,
            "invalid_encoding",
            f"the body is not UTF-8: the byte 0x{body[exc.start]:02X} at offset {exc.start} "
            f"{_reason(exc)}; send JSON encoded as UTF-8",
            {"offset": exc.start},
        )


class _Refused(ValueError):
    """A JSON token the parser would take that is not JSON, or not a usable number."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value; send a number or null")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is too large for a 64-bit float")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise _Refused(f"an integer has more than {_MAX_DIGITS} digits")
    return int(text)


def _too_deep(depth: int | None) -> Flaw:
    found = f"{depth} levels deep" if depth is not None else "deeper than the parser can follow"
    return Flaw(
        400,
        "json_too_deep",
        f"the body nests objects and arrays {found}; at most {MAX_JSON_DEPTH} levels are "
        "accepted: flatten it",
        {"max_depth": MAX_JSON_DEPTH},
    )


def _walk(document: Any) -> Iterator[tuple[str, int, Any]]:
    """(path, containers around it, value) of every value and object key, without
    recursion."""
    pending: list[tuple[str, int, Any]] = [("", 0, document)]
    while pending:
        path, depth, node = pending.pop()
        yield path, depth, node
        if isinstance(node, dict):
            for key, value in node.items():
                inner = f"{path}.{key}" if path else str(key)
                yield inner, depth + 1, key
                pending.append((inner, depth + 1, value))
        elif isinstance(node, list):
            pending.extend((f"{path}[{i}]", depth + 1, v) for i, v in enumerate(node))


def _text_flaw(document: Any) -> Flaw | None:
    """NUL characters and lone surrogates (escaped as \\u0000, \\ud800): JSON allows them,
    PostgreSQL and UTF-8 cannot hold them."""
    for path, _, node in _walk(document):
        if not isinstance(node, str):
            continue
        where = f"body field `{_printable(path)}`" if path else "the body"
        if "\x00" in node:
            return Flaw(
                422,
                "nul_character",
                f"{where} contains a NUL character (\\u0000), which no field accepts; remove it",
            )
        try:
            node.encode("utf-8")
        except UnicodeEncodeError as exc:
            return Flaw(
                400,
                "invalid_encoding",
                f"{where} holds a lone UTF-16 surrogate (\\u{ord(node[exc.start]):04x}), which "
                "is not a character; escape a character outside the BMP as a surrogate pair "
                "or send it as UTF-8",
            )
    return None


def _printable(path: str) -> str:
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in path)
    return shown if len(shown) <= 120 else shown[:117] + "…"
