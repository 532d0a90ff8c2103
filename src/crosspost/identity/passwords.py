"""Passwords: Argon2id hashes and the rules a new password must meet.

The parameters are OWASP's first Argon2id configuration (19 MiB, 2 passes, 1 lane): every
sign-in of every person costs that memory at once, so a server under a burst of sign-ins
must not need 64 MiB and four cores for each (argon2-cffi's defaults). A hash made with
other parameters is re-made at the next sign-in."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crosspost.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is slow by design: bound what one request can ask of it

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _dummy() -> str:
    """Verified when no user matches, so an unknown email costs what a wrong password costs
    (made at first need: hashing at import would cost every process start 80 ms)."""
    return _HASHER.hash("not-a-password-anyone-has")


def check_new(password: str) -> str:
    """A password fit to set, or 422 `weak_password` saying what to change."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or not password.strip():
        raise InvalidInput(
            f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters (a passphrase of a few "
            "words is easiest to remember)",
            code="weak_password",
        )
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash to store."""
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (False, at the same cost, when there is
    none); never raises for a wrong or malformed hash."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)
