"""Platform clients configured for an account: real endpoints, or the fakes in test mode."""

from __future__ import annotations

from crosspost.domain.enums import Mode, Platform
from crosspost.engine.services import Services
from crosspost.platforms.base import PlatformClient
from crosspost.platforms.registry import client_for


def build_client(svc: Services, platform: Platform, mode: Mode) -> PlatformClient:
    """The platform's client for accounts of this mode (test mode reaches only the fakes)."""
    settings = svc.settings
    test = mode is Mode.TEST
    return client_for(platform)(
        svc.http,
        settings.platform_base(platform, test_mode=test),
        chunk_bytes=settings.upload_chunk_bytes,
        poll_seconds=settings.sandbox_poll_seconds if test else settings.processing_poll_seconds,
        clock=svc.clock,
        **settings.client_options(platform),
    )
