"""API key format and keyed hashing.

A key reads ``cp_<mode>_<43 base62 chars of 256 random bits><6 base62 chars of CRC32>``;
an operator's server-level key reads the same with ``cp_op_`` (no mode: it reaches no
platform).
The checksum lets us (and secret scanners) reject a mistyped key without a database
look-up; only an HMAC-SHA256 of the key, keyed with a server secret, is ever stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass, field

from crosspost.domain.enums import Mode

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 43  # ceil(256 / log2(62))
_CHECK_LEN = 6


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


@dataclass(frozen=True)
class ParsedKey:
    """A syntactically valid key: its mode and the part shown in listings."""

    raw: str = field(repr=False)
    mode: Mode

    @property
    def display_prefix(self) -> str:
        """What we may show later: the prefix and the first few characters."""
        return self.raw[: len("cp_test_") + 4]


OPERATOR_PREFIX = "cp_op_"


def _generate(prefix: str) -> str:
    body = _base62(secrets.randbits(256), _BODY_LEN)
    return f"{prefix}{body}{_checksum(body)}"


def _well_formed(rest: str) -> bool:
    if len(rest) != _BODY_LEN + _CHECK_LEN or any(c not in _ALPHABET for c in rest):
        return False
    return hmac.compare_digest(_checksum(rest[:_BODY_LEN]), rest[_BODY_LEN:])


def generate_key(mode: Mode) -> str:
    """A new random API key for `mode`."""
    return _generate(f"cp_{mode.value}_")


def parse_key(raw: str) -> ParsedKey | None:
    """The parsed key, or None when prefix, length, alphabet or checksum is wrong."""
    for mode in Mode:
        prefix = f"cp_{mode.value}_"
        if raw.startswith(prefix):
            return ParsedKey(raw=raw, mode=mode) if _well_formed(raw[len(prefix) :]) else None
    return None


def generate_operator_key() -> str:
    """A new random operator key (`cp_op_…`)."""
    return _generate(OPERATOR_PREFIX)


def is_operator_key(raw: str) -> bool:
    """True when `raw` is a well-formed operator key (prefix, length, checksum)."""
    return raw.startswith(OPERATOR_PREFIX) and _well_formed(raw[len(OPERATOR_PREFIX) :])


def hash_key(raw: str, secret: bytes) -> str:
    """The keyed hash stored in place of the key."""
    return hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
