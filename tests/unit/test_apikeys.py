"""API key format: prefix, entropy, checksum; only a keyed hash is stored."""

from __future__ import annotations

from crosspost.domain.enums import Mode
from crosspost.vault.apikeys import generate_key, hash_key, parse_key


def test_generated_keys_parse_with_their_mode() -> None:
    """A fresh key parses back, names its mode and never repeats."""
    keys = {generate_key(Mode.TEST) for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        parsed = parse_key(key)
        assert parsed is not None and parsed.mode is Mode.TEST
        assert key.startswith("cp_test_") and len(key) == len("cp_test_") + 49
    live = parse_key(generate_key(Mode.LIVE))
    assert live is not None and live.mode is Mode.LIVE


def test_every_single_character_typo_is_caught_by_the_checksum() -> None:
    """Changing any one character of the body or checksum makes the key unparseable."""
    key = generate_key(Mode.LIVE)
    prefix = len("cp_live_")
    for i in range(prefix, len(key)):
        replacement = "0" if key[i] != "0" else "1"
        assert parse_key(key[:i] + replacement + key[i + 1 :]) is None, i


def test_malformed_keys() -> None:
    """Wrong prefix, length or alphabet is refused without any look-up."""
    key = generate_key(Mode.TEST)
    assert parse_key("sk_test_" + key[8:]) is None
    assert parse_key(key[:-1]) is None
    assert parse_key(key[:-2] + "!!") is None
    assert parse_key("") is None


def test_hash_is_keyed() -> None:
    """The stored hash depends on the server secret, and the display prefix reveals little."""
    key = generate_key(Mode.TEST)
    assert hash_key(key, b"a" * 32) != hash_key(key, b"b" * 32)
    assert hash_key(key, b"a" * 32) == hash_key(key, b"a" * 32)
    parsed = parse_key(key)
    assert parsed is not None and len(parsed.display_prefix) == len("cp_test_") + 4
