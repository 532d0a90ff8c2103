"""Strict fakes of the platforms' real HTTP protocols, with fault injection.

Fakes import nothing of ours but ``crosspost.domain``, so they never share a bug with the
clients they test. ``create_sandbox_app`` mounts them all; ``serve_in_thread`` serves any ASGI
app on a real loopback port.
"""

from crosspost.fakes.app import FAKES, create_sandbox_app
from crosspost.fakes.base import AbortConnection, FakeConfig, Faults, PlatformFake
from crosspost.fakes.instagram import InstagramFake
from crosspost.fakes.linkedin import LinkedInFake
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.fakes.soundcloud import SoundCloudFake
from crosspost.fakes.tiktok import TikTokFake
from crosspost.fakes.x import XFake
from crosspost.fakes.youtube import YouTubeFake

__all__ = [
    "FAKES",
    "AbortConnection",
    "FakeConfig",
    "Faults",
    "InstagramFake",
    "LinkedInFake",
    "PlatformFake",
    "RunningServer",
    "SoundCloudFake",
    "TikTokFake",
    "XFake",
    "YouTubeFake",
    "create_sandbox_app",
    "serve_in_thread",
]
