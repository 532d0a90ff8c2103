"""Runner test fixtures: the backoff test switch is reset after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crosspost.jobs import backoff


@pytest.fixture(autouse=True)
def _real_backoff() -> Iterator[None]:
    """Leave the process-wide backoff test switch off after every test."""
    yield
    backoff.set_testing(False)
