"""Capped exponential backoff with jitter, and a test switch that turns the waiting off.

Jitter spreads the retries of jobs that failed together (a platform outage) so they do not
come back as one thundering herd. "Full" jitter picks uniformly in ``[0, base * 2**(n-1)]``;
"decorrelated" picks in ``[base, 3 * previous]`` (both from the AWS architecture blog's
comparison), each capped.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from crosspost.config import Settings

Jitter = Literal["full", "decorrelated"]

_MAX_EXPONENT = 64  # beyond this, base * 2**n exceeds any sane cap anyway

_testing_lock = threading.Lock()
_testing: float | None = None


def set_testing(testing: bool, *, delay: float = 0.0) -> None:
    """Make every `Backoff` answer `delay` seconds (tests), or restore real backoff.

    Process-wide, in the manner of ``stamina.set_testing``: tests that exercise retries
    switch it on and off in a fixture instead of threading a zero backoff everywhere.
    """
    global _testing  # noqa: PLW0603 - one switch for the whole process, by design
    if delay < 0:
        raise ValueError("delay must not be negative")
    with _testing_lock:
        _testing = delay if testing else None


def is_testing() -> bool:
    """True while `set_testing(True)` is in force."""
    return _testing is not None


@dataclass
class Backoff:
    """Delays before retry number `errors` (1 = after the first error).

    `rng` is injectable so tests can pin the jitter; it defaults to a private generator.
    """

    base: float = 2.0
    cap: float = 3600.0
    jitter: Jitter = "full"
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, jitter: Jitter = "full", rng: random.Random | None = None
    ) -> Backoff:
        """Backoff with `job_backoff_base` and `job_backoff_cap` from settings."""
        return cls(
            base=settings.job_backoff_base,
            cap=settings.job_backoff_cap,
            jitter=jitter,
            rng=rng or random.Random(),
        )

    def ceiling(self, errors: int) -> float:
        """The un-jittered delay after `errors` consecutive errors: ``base * 2**(errors-1)``."""
        exponent = min(max(errors, 1) - 1, _MAX_EXPONENT)
        return min(self.cap, self.base * 2.0**exponent)

    def delay(self, errors: int, previous: float | None = None) -> float:
        """Seconds to wait before the next attempt after `errors` consecutive errors.

        Decorrelated jitter grows from the previous delay; without one (the runner keeps
        no per-job history) the previous ceiling stands in for it.
        """
        testing = _testing
        if testing is not None:
            return testing
        if self.jitter == "full":
            return self.rng.uniform(0.0, self.ceiling(errors))
        if previous is None:
            previous = self.ceiling(errors - 1) if errors > 1 else self.base
        return min(self.cap, self.rng.uniform(self.base, max(self.base, previous * 3.0)))
