"""Shared pacing budgets: an exact sliding window, all-or-nothing, exact under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from crosspost.domain.enums import Platform
from crosspost.domain.limits import Rate
from crosspost.engine.pacing import budget_key, reserve
from crosspost.store.db import Database

INIT = Rate("init", 6, 60.0)
STATUS = Rate("status", 30, 60.0)
APP_DAY = Rate("insert", 3, 86400.0, per_account=False)
T0 = 1_800_000_000.0


def test_a_full_window_waits_until_its_oldest_call_leaves(db: Database) -> None:
    """Six calls a minute pass; the seventh waits until the first is a minute old."""
    waits = [reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + i) for i in range(6)]
    assert waits == [0.0] * 6
    assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + 10) == pytest.approx(50.0)
    # A refused call spends nothing: the window still frees at T0 + 60.
    assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + 59.5) == pytest.approx(0.5)
    assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + 60.01) == 0.0
    assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + 60.02) == pytest.approx(0.98)


def test_accounts_have_their_own_budgets_and_apps_share_one(db: Database) -> None:
    """Per-account budgets are independent; a per-app budget is shared by every account."""
    for i in range(6):
        assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + i) == 0.0
    assert reserve(db, Platform.TIKTOK, "acc_2", [INIT], T0 + 7) == 0.0
    for account in ("acc_1", "acc_2", "acc_3"):
        assert reserve(db, Platform.YOUTUBE, account, [APP_DAY], T0) == 0.0
    assert reserve(db, Platform.YOUTUBE, "acc_4", [APP_DAY], T0 + 1) == pytest.approx(86399.0)
    assert budget_key(Platform.YOUTUBE, "acc_4", APP_DAY) == "youtube:app:insert"
    assert budget_key(Platform.TIKTOK, "acc_1", INIT) == "tiktok:acc_1:init"


def test_a_step_spends_from_all_its_budgets_or_none(db: Database) -> None:
    """When one budget is full, the others are not charged for the refused call."""
    for i in range(6):
        assert reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0 + i) == 0.0
    assert reserve(db, Platform.TIKTOK, "acc_1", [INIT, STATUS], T0 + 6) > 0
    # STATUS was not charged: all 30 of its calls are still available.
    assert all(reserve(db, Platform.TIKTOK, "acc_1", [STATUS], T0 + 7) == 0.0 for _ in range(30))
    assert reserve(db, Platform.TIKTOK, "acc_1", [STATUS], T0 + 8) > 0


def test_concurrent_workers_never_overspend(db: Database) -> None:
    """Forty racing reservations of a six-call budget: exactly six are granted."""
    with ThreadPoolExecutor(8) as pool:
        waits = list(
            pool.map(lambda _: reserve(db, Platform.TIKTOK, "acc_1", [INIT], T0), range(40))
        )
    assert waits.count(0.0) == 6
    assert all(w == pytest.approx(60.0) for w in waits if w)


def test_costly_calls_spend_units(db: Database) -> None:
    """Quota units: 1600-unit uploads fit six times in 10,000 units; polls of one unit still
    fit beside them, and the next upload waits until the first one leaves the day."""
    upload = Rate("units", 10_000, 86400.0, per_account=False, cost=1600)
    poll = Rate("units", 10_000, 86400.0, per_account=False, cost=1)
    for i in range(6):
        assert reserve(db, Platform.YOUTUBE, "acc_1", [upload], T0 + i) == 0.0
    assert all(reserve(db, Platform.YOUTUBE, "acc_2", [poll], T0 + 10) == 0.0 for _ in range(400))
    assert reserve(db, Platform.YOUTUBE, "acc_2", [upload], T0 + 20) == pytest.approx(86380.0)
    with pytest.raises(ValueError, match="never fits"):
        reserve(db, Platform.YOUTUBE, "acc_1", [Rate("units", 10, 60.0, cost=11)], T0)
