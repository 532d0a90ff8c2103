"""Which platform clients exist: the engine looks a client class up here by platform."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from crosspost.domain.enums import Platform
from crosspost.platforms.base import PlatformClient
from crosspost.platforms.instagram import InstagramClient
from crosspost.platforms.linkedin import LinkedInClient
from crosspost.platforms.soundcloud import SoundCloudClient
from crosspost.platforms.tiktok import TikTokClient
from crosspost.platforms.x import XClient
from crosspost.platforms.youtube import YouTubeClient

CLIENTS: Mapping[Platform, type[PlatformClient]] = MappingProxyType(
    {
        Platform.YOUTUBE: YouTubeClient,
        Platform.TIKTOK: TikTokClient,
        Platform.INSTAGRAM: InstagramClient,
        Platform.X: XClient,
        Platform.LINKEDIN: LinkedInClient,
        Platform.SOUNDCLOUD: SoundCloudClient,
    }
)


def client_for(platform: Platform) -> type[PlatformClient]:
    """The client class for `platform`; KeyError when crosspost cannot publish there yet."""
    try:
        return CLIENTS[platform]
    except KeyError:
        raise KeyError(f"no client implemented for platform {platform.value!r}") from None


def supported_platforms() -> frozenset[Platform]:
    """Platforms with an implemented client."""
    return frozenset(CLIENTS)
