"""Feature flags: on/off, a deterministic rollout percentage, tenant allow- and deny-lists
and a kill switch, evaluated in-process from a cache (`FlagCache`), managed by
`crosspost flags` and `/v1/admin/flags`, and offered as an OpenFeature provider
(`crosspost.flags.openfeature`).

Every capability landed from now on ships behind a flag registered in `KNOWN_FLAGS`, which
is on until the operator says otherwise.
"""

from __future__ import annotations

from crosspost.flags.cache import FlagCache, Snapshot
from crosspost.flags.rules import KNOWN_FLAGS, Decision, Flag, Reason, bucket, evaluate

__all__ = [
    "KNOWN_FLAGS",
    "Decision",
    "Flag",
    "FlagCache",
    "Reason",
    "Snapshot",
    "bucket",
    "evaluate",
]
