"""Vault envelopes: round trip, tamper and wrong-row failures, key rotation."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from crosspost.config import Settings
from crosspost.vault.keyring import VaultError, load_keyring, parse_master_keys


def _spec(*kids: str) -> str:
    return ",".join(f"{k}:{base64.b64encode(os.urandom(32)).decode()}" for k in kids)


def test_round_trip_and_associated_data() -> None:
    """A secret opens only for the tenant, table and row it was sealed for."""
    ring = parse_master_keys(_spec("k1"))
    sealed = ring.encrypt("ya29.secret", tenant_id="t1", table="social_accounts", row_id="acc_1")
    assert "ya29" not in sealed
    assert (
        ring.decrypt(sealed, tenant_id="t1", table="social_accounts", row_id="acc_1")
        == "ya29.secret"
    )
    for other in (
        {"tenant_id": "t2", "table": "social_accounts", "row_id": "acc_1"},
        {"tenant_id": "t1", "table": "social_accounts", "row_id": "acc_2"},
        {"tenant_id": "t1", "table": "webhooks", "row_id": "acc_1"},
    ):
        with pytest.raises(VaultError):
            ring.decrypt(sealed, **other)


def test_tampering_is_detected() -> None:
    """Flipping any byte of the ciphertext fails authentication."""
    ring = parse_master_keys(_spec("k1"))
    sealed = ring.encrypt("secret", tenant_id="t", table="x", row_id="r")
    body = sealed.rsplit(".", 1)[1]
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(VaultError):
        ring.decrypt(sealed.rsplit(".", 1)[0] + "." + flipped, tenant_id="t", table="x", row_id="r")
    with pytest.raises(VaultError):
        ring.decrypt("garbage", tenant_id="t", table="x", row_id="r")


def test_rotation_keeps_old_envelopes_readable() -> None:
    """After adding a new first key, old envelopes still open and are flagged for rotation."""
    old_spec = _spec("old")
    old = parse_master_keys(old_spec)
    sealed = old.encrypt("s", tenant_id="t", table="x", row_id="r")
    both = parse_master_keys(_spec("new") + "," + old_spec)
    assert both.current_kid == "new"
    assert both.needs_rotation(sealed)
    assert both.decrypt(sealed, tenant_id="t", table="x", row_id="r") == "s"
    resealed = both.encrypt("s", tenant_id="t", table="x", row_id="r")
    assert not both.needs_rotation(resealed)
    with pytest.raises(VaultError, match="no master key"):
        old.decrypt(resealed, tenant_id="t", table="x", row_id="r")


def test_bad_key_specs_are_refused() -> None:
    """Short keys, bad base64 and empty specs fail loudly."""
    for spec in (
        "k1:" + base64.b64encode(b"short").decode(),
        "k1:%%%",
        "",
        "k.1:" + _spec("x")[2:],
    ):
        with pytest.raises(ValueError, match=r"master key|no key"):
            parse_master_keys(spec)


def test_embedded_key_is_generated_once_with_0600(tmp_path: Path) -> None:
    """Without CROSSPOST_MASTER_KEYS a key is written to home/master.key, private, once."""
    settings = Settings(_env_file=None, home=tmp_path)  # type: ignore[call-arg]
    first = load_keyring(settings)
    second = load_keyring(settings)
    assert first == second
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
