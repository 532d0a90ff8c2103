"""Flag evaluation and bucketing: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from crosspost.flags.rules import (
    BUCKETS,
    KEY_PATTERN,
    KNOWN_FLAGS,
    Flag,
    Reason,
    absent,
    bucket,
    evaluate,
    explain,
)

TENANTS = [f"ten_{n:05d}" for n in range(2000)]
keys = st.from_regex(KEY_PATTERN, fullmatch=True)
tenant_ids = st.text(min_size=1, max_size=40)
percents = st.integers(min_value=0, max_value=100)


def on_for(flag: Flag) -> set[str]:
    """The tenants of TENANTS the flag is on for."""
    return {t for t in TENANTS if evaluate(flag, t).on}


def test_bucket_is_pinned_across_releases() -> None:
    """The bucket is sha256-based, not Python's salted hash: the same in every process and
    release (a change here would reshuffle every rollout in production)."""
    assert bucket("publish.threads", "ten_b") == 4254
    assert bucket("publish.threads", "ten_b") == bucket("publish.threads", "ten_b")
    assert bucket("publish.threads", "ten_c") != bucket("publish.threads", "ten_b")


@given(keys, tenant_ids)
def test_bucket_is_in_range(key: str, tenant_id: str) -> None:
    """Every bucket is one of the BUCKETS slots."""
    assert 0 <= bucket(key, tenant_id) < BUCKETS


def test_ten_percent_is_roughly_a_tenth() -> None:
    """At 10 % about a tenth of 2,000 tenants are in (within four standard deviations)."""
    flag = Flag("publish.threads", rollout_percent=10)
    assert 150 <= len(on_for(flag)) <= 250


def test_raising_the_percentage_keeps_those_already_in() -> None:
    """10 → 50 % keeps every tenant of the first 10 % in, and 50 → 100 % all of them."""
    flag = Flag("publish.threads", rollout_percent=10)
    at_10 = on_for(flag)
    at_50 = on_for(replace(flag, rollout_percent=50))
    assert at_10 < at_50
    assert 850 <= len(at_50) <= 1150
    assert on_for(replace(flag, rollout_percent=100)) == set(TENANTS)
    assert on_for(replace(flag, rollout_percent=0)) == set()


@given(keys, tenant_ids, percents, percents)
def test_rollout_is_monotonic(key: str, tenant_id: str, low: int, high: int) -> None:
    """A tenant in at some percentage is in at every higher one."""
    low, high = sorted((low, high))
    flag = Flag(key, rollout_percent=low)
    if evaluate(flag, tenant_id).on:
        assert evaluate(replace(flag, rollout_percent=high), tenant_id).on


def test_flags_bucket_tenants_independently() -> None:
    """Two flags at 10 % are not on for the same tenants (the key is in the hash): the
    same early tenants do not get every experiment."""
    first = on_for(Flag("a.one", rollout_percent=10))
    second = on_for(Flag("b.two", rollout_percent=10))
    assert len(first & second) < 60  # ~1 % of 2,000 expected


def test_kill_overrides_everything() -> None:
    """Killed: off for everyone, the allow-list included."""
    flag = Flag("x", killed=True, allow=frozenset({"ten_a"}))
    for tenant in ("ten_a", "ten_b", None):
        assert evaluate(flag, tenant).on is False
        assert evaluate(flag, tenant).reason is Reason.KILLED


def test_deny_then_allow_then_enabled_then_rollout() -> None:
    """Deny beats allow; allow beats off and 0 %; off beats the rollout."""
    flag = Flag("x", enabled=False, rollout_percent=0, allow=frozenset({"ten_a", "ten_d"}),
                deny=frozenset({"ten_d"}))  # fmt: skip
    assert (evaluate(flag, "ten_d").on, evaluate(flag, "ten_d").reason) == (False, Reason.DENIED)
    assert (evaluate(flag, "ten_a").on, evaluate(flag, "ten_a").reason) == (True, Reason.ALLOWED)
    assert evaluate(flag, "ten_b").reason is Reason.DISABLED
    assert evaluate(replace(flag, rollout_percent=100), "ten_b").reason is Reason.DISABLED
    everyone = replace(flag, enabled=True, rollout_percent=100)
    assert evaluate(everyone, "ten_b") == evaluate(everyone, None)
    assert evaluate(everyone, "ten_b").reason is Reason.EVERYONE
    assert evaluate(everyone, "ten_d").reason is Reason.DENIED


@given(keys, tenant_ids, percents, st.booleans(), st.booleans())
def test_lists_win_over_state_and_rollout(
    key: str, tenant_id: str, percent: int, enabled: bool, listed_deny: bool
) -> None:
    """Whatever the state and percentage, a listed tenant gets its list's answer unless
    the flag is killed."""
    listed = frozenset({tenant_id})
    flag = Flag(key, enabled=enabled, rollout_percent=percent,
                deny=listed if listed_deny else frozenset(),
                allow=frozenset() if listed_deny else listed)  # fmt: skip
    assert evaluate(flag, tenant_id).on is not listed_deny
    assert evaluate(replace(flag, killed=True), tenant_id).on is False


def test_a_partial_rollout_without_a_tenant_is_off() -> None:
    """No tenant to place: off, and the reason says so; 100 % and 0 % need none."""
    assert evaluate(Flag("x", rollout_percent=30), None).reason is Reason.NO_TENANT
    assert evaluate(Flag("x", rollout_percent=0), None).reason is Reason.OUT_OF_ROLLOUT


def test_absent_flags() -> None:
    """A registered flag not stored is on whatever the caller's default; an unknown one
    answers the caller's default."""
    registered = next(iter(KNOWN_FLAGS))
    assert absent(registered, False).on is True
    assert absent(registered, False).reason is Reason.DEFAULT
    assert absent("no.such.flag", True).on is True
    assert absent("no.such.flag", False).on is False
    assert absent("no.such.flag", False).reason is Reason.UNKNOWN


def test_registered_keys_are_valid_keys() -> None:
    """Every flag the code registers can be stored and managed."""
    assert all(KEY_PATTERN.fullmatch(key) for key in KNOWN_FLAGS)
    for bad in ("", "Upper", ".dot", "a b", "a" * 101, "~version", "ünï"):
        assert not KEY_PATTERN.fullmatch(bad)


def test_explain_names_the_bucket() -> None:
    """`flags check` says where the tenant falls in the rollout."""
    flag = Flag("publish.threads", rollout_percent=10)
    text = explain(flag, "ten_b", evaluate(flag, "ten_b"))
    assert "42.54 %" in text and "not under" in text and "10 %" in text
    assert "killed" in explain(flag, "ten_b", evaluate(replace(flag, killed=True), "ten_b"))
