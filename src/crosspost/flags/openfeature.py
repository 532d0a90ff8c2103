"""crosspost's flags as an OpenFeature provider, so code asks through the OpenFeature API
and an operator can put their own flag service behind the same calls.

The targeting key is the tenant id. Flags are boolean: asking for another type answers the
caller's default with TYPE_MISMATCH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.flag_evaluation import Reason as OFReason
from openfeature.provider import AbstractProvider, Metadata

from crosspost.flags.cache import FlagCache
from crosspost.flags.rules import Reason

_T = TypeVar("_T")

# How each of our reasons reads in OpenFeature's vocabulary.
_REASONS: dict[Reason, str] = {
    Reason.KILLED: OFReason.DISABLED,
    Reason.DISABLED: OFReason.DISABLED,
    Reason.DENIED: OFReason.TARGETING_MATCH,
    Reason.ALLOWED: OFReason.TARGETING_MATCH,
    Reason.EVERYONE: OFReason.STATIC,
    Reason.IN_ROLLOUT: OFReason.SPLIT,
    Reason.OUT_OF_ROLLOUT: OFReason.SPLIT,
    Reason.DEFAULT: OFReason.DEFAULT,
}


class CrosspostProvider(AbstractProvider):
    """Answers boolean flags from a `FlagCache` (started by `initialize` unless it runs,
    closed by `shutdown` only if `owns_cache`); emits a configuration change per reload."""

    def __init__(self, cache: FlagCache, *, owns_cache: bool = False) -> None:
        super().__init__()
        self._cache = cache
        self._owns_cache = owns_cache
        cache.on_change(self._changed)

    def get_metadata(self) -> Metadata:
        """The provider's name."""
        return Metadata(name="crosspost")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Load the flags and keep them fresh (a failure makes the provider ERROR)."""
        self._cache.start()

    def shutdown(self) -> None:
        """Stop the cache if this provider owns it."""
        if self._owns_cache:
            self._cache.close()

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """The flag for the context's targeting key (the tenant id)."""
        tenant_id = evaluation_context.targeting_key if evaluation_context else None
        decision = self._cache.evaluate(flag_key, tenant_id, default_value)
        metadata = {"reason": decision.reason.value, "version": self._cache.version}
        if decision.reason is Reason.UNKNOWN:
            return FlagResolutionDetails(
                value=default_value,
                reason=OFReason.ERROR,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"no flag {flag_key!r} is stored or registered",
            )
        if decision.reason is Reason.NO_TENANT:
            return FlagResolutionDetails(
                value=default_value,
                reason=OFReason.ERROR,
                error_code=ErrorCode.TARGETING_KEY_MISSING,
                error_message=f"{flag_key!r} is rolled out to a share of tenants: pass the "
                "tenant id as the evaluation context's targeting key",
            )
        return FlagResolutionDetails(
            value=decision.on,
            reason=_REASONS[decision.reason],
            variant="on" if decision.on else "off",
            flag_metadata=metadata,
        )

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        """Not a crosspost flag type: the default, with TYPE_MISMATCH."""
        return _mismatch(flag_key, default_value)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        """Not a crosspost flag type: the default, with TYPE_MISMATCH."""
        return _mismatch(flag_key, default_value)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """Not a crosspost flag type: the default, with TYPE_MISMATCH."""
        return _mismatch(flag_key, default_value)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """Not a crosspost flag type: the default, with TYPE_MISMATCH."""
        return _mismatch(flag_key, default_value)

    def _changed(self, keys: frozenset[str]) -> None:
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=sorted(keys)))


def _mismatch(flag_key: str, default_value: _T) -> FlagResolutionDetails[_T]:
    return FlagResolutionDetails(
        value=default_value,
        reason=OFReason.ERROR,
        error_code=ErrorCode.TYPE_MISMATCH,
        error_message=f"crosspost flags are boolean: read {flag_key!r} with get_boolean_value",
    )
