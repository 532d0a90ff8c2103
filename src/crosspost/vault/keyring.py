"""AES-GCM envelopes that name their key id and bind the row they belong to.

Envelope: ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The associated data is
``tenant_id|table|row_id``, so a ciphertext copied to another row or tenant fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crosspost.config import Settings
from crosspost.errors import CrosspostError

_VERSION = "v1"


class VaultError(CrosspostError):
    """A secret could not be decrypted (wrong key, wrong row, or tampered)."""

    status = 500
    code = "vault_error"
    title = "Secret could not be decrypted"


@dataclass(frozen=True)
class Keyring:
    """Ordered master keys; the first encrypts, all decrypt."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    @property
    def current_kid(self) -> str:
        """The key id new envelopes are written with."""
        return self.keys[0][0]

    def encrypt(self, plaintext: str, *, tenant_id: str, table: str, row_id: str) -> str:
        """Seal `plaintext` for one row of one tenant."""
        kid, key = self.keys[0]
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(tenant_id, table, row_id))
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{kid}.{body}"

    def decrypt(self, envelope: str, *, tenant_id: str, table: str, row_id: str) -> str:
        """Open an envelope written for exactly this row; raise VaultError otherwise."""
        try:
            version, kid, body = envelope.split(".", 2)
        except ValueError:
            raise VaultError("malformed secret envelope") from None
        key = dict(self.keys).get(kid)
        if version != _VERSION or key is None:
            raise VaultError(f"no master key with id {kid!r}; add it to CROSSPOST_MASTER_KEYS")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(tenant_id, table, row_id))
        except (InvalidTag, ValueError, binascii.Error):
            raise VaultError("secret failed authentication (tampered or moved)") from None
        return plain.decode()

    def needs_rotation(self, envelope: str) -> bool:
        """True when the envelope was sealed with an older key."""
        return envelope.split(".", 2)[1:2] != [self.current_kid]


def _aad(tenant_id: str, table: str, row_id: str) -> bytes:
    return f"{tenant_id}|{table}|{row_id}".encode()


def parse_master_keys(spec: str) -> Keyring:
    """Parse ``kid:base64key,kid2:base64key`` (32-byte AES-256 keys)."""
    keys: list[tuple[str, bytes]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, _, b64 = item.partition(":")
        try:
            key = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise ValueError(f"master key {kid!r} is not valid base64") from None
        if not kid or len(key) != 32 or "." in kid:
            raise ValueError(f"master key {kid!r} must be 'kid:<base64 of 32 bytes>'")
        keys.append((kid, key))
    if not keys:
        raise ValueError("CROSSPOST_MASTER_KEYS holds no key")
    return Keyring(tuple(keys))


def _read_or_create(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(make + "\n")
    return make


def load_keyring(settings: Settings) -> Keyring:
    """The vault keyring from settings, or from ``home/master.key`` (generated once, 0600)."""
    if settings.master_keys:
        return parse_master_keys(settings.master_keys.get_secret_value())
    fresh = f"k{secrets.token_hex(4)}:{base64.b64encode(os.urandom(32)).decode()}"
    return parse_master_keys(_read_or_create(settings.home / "master.key", fresh))


def load_hash_key(settings: Settings) -> bytes:
    """The key of the keyed hash of API keys, from settings or ``home/hash.key``."""
    configured = settings.hash_key.get_secret_value() if settings.hash_key else None
    spec = configured or _read_or_create(
        settings.home / "hash.key", base64.b64encode(os.urandom(32)).decode()
    )
    return base64.b64decode(spec)
