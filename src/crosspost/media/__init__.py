"""Media: storage backends, probing with PyAV, and validation against platform limits.

`crosspost.media.samples` (generated test media) is imported explicitly, not re-exported.
"""

from crosspost.media.probe import ProbeResult, moov_before_mdat, probe, sniff_content_type
from crosspost.media.storage import InvalidKey, MediaStorage, PendingWrite, StoredObject
from crosspost.media.storage_local import LocalPendingWrite, LocalStorage
from crosspost.media.validate import MediaInfo, Violation, raise_for, validate

__all__ = [
    "InvalidKey",
    "LocalPendingWrite",
    "LocalStorage",
    "MediaInfo",
    "MediaStorage",
    "PendingWrite",
    "ProbeResult",
    "StoredObject",
    "Violation",
    "moov_before_mdat",
    "probe",
    "raise_for",
    "sniff_content_type",
    "validate",
]
