"""The sandbox: every platform fake mounted under its own prefix in one ASGI app."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from crosspost.domain.enums import Platform
from crosspost.fakes import distributor_controls
from crosspost.fakes.base import FakeConfig, PlatformFake
from crosspost.fakes.discord import DiscordFakeConfig, DiscordWebhookFake
from crosspost.fakes.distributor import FakeDistributor
from crosspost.fakes.github import GitHubFake, GitHubFakeConfig
from crosspost.fakes.instagram import InstagramFake
from crosspost.fakes.linkedin import LinkedInFake
from crosspost.fakes.llm import ChatFakeConfig, OpenAIChatFake
from crosspost.fakes.replicate import ReplicateFake, ReplicateFakeConfig
from crosspost.fakes.soundcloud import SoundCloudFake
from crosspost.fakes.stability import StabilityFake, StabilityFakeConfig
from crosspost.fakes.tiktok import TikTokFake
from crosspost.fakes.transcription import OpenAITranscriptionFake, TranscriptionFakeConfig
from crosspost.fakes.twitch import TwitchFake, TwitchFakeConfig
from crosspost.fakes.x import XFake
from crosspost.fakes.youtube import YouTubeFake

# Where OpenAI's fakes (transcription, chat completions) are mounted: the API base is
# {sandbox}/openai/v1.
TRANSCRIPTION_PREFIX = "/openai"
# The content pipeline's sources: Twitch (id.twitch.tv and api.twitch.tv both under
# /twitch) and GitHub's REST API (at /github).
TWITCH_PREFIX = "/twitch"
GITHUB_PREFIX = "/github"
# Discord's execute-webhook API (recap notifications): {sandbox}/discord/api/v10/webhooks/….
DISCORD_PREFIX = "/discord"

# Cover-art models: {sandbox}/stability and {sandbox}/replicate.
STABILITY_PREFIX = "/stability"
REPLICATE_PREFIX = "/replicate"

# Adding a platform's fake is one line here; it is mounted at /{platform.value}.
FAKES: Mapping[Platform, Callable[[FakeConfig], PlatformFake]] = {
    Platform.YOUTUBE: YouTubeFake,
    Platform.TIKTOK: TikTokFake,
    Platform.INSTAGRAM: InstagramFake,
    Platform.X: XFake,
    Platform.LINKEDIN: LinkedInFake,
    Platform.SOUNDCLOUD: SoundCloudFake,
}


def create_sandbox_app(config: FakeConfig | None = None) -> Starlette:
    """An app serving each fake under ``/{platform}``, plus ``/healthz`` and an index at ``/``.

    The fake instances are on ``app.state.fakes`` (a dict keyed by Platform) for in-process use;
    ``app.state.instance`` names this app, as ``/healthz`` does with its process id, so whoever
    finds fakes on a port can tell whether they are the ones it started.
    """
    config = config or FakeConfig()
    fakes = {platform: factory(config) for platform, factory in FAKES.items()}
    instance = secrets.token_hex(8)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "service": "crosspost-fakes", "instance": instance, "pid": os.getpid()}
        )

    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "fakes": [
                    {
                        "platform": platform.value,
                        "prefix": f"/{platform.value}",
                        "control": f"/{platform.value}/_fake",
                    }
                    for platform in fakes
                ]
            }
        )

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ]

    async def no_fake(request: Request, exc: Exception) -> Response:
        # Paths under a fake's prefix get that platform's envelope from the fake itself;
        # only a path outside every prefix reaches this.
        assert isinstance(exc, HTTPException)
        body = {
            "error": f"no fake serves {request.method} {request.url.path}",
            "prefixes": [f"/{platform.value}" for platform in fakes],
        }
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    routes += [Mount(f"/{platform.value}", app=fake.asgi()) for platform, fake in fakes.items()]
    # Not platforms: the OpenAI-compatible transcription API the studio's sandbox uses, and
    # the content pipeline's sources.
    transcription = OpenAITranscriptionFake(TranscriptionFakeConfig())
    twitch = TwitchFake(TwitchFakeConfig(clock=config.clock, seed=config.seed))
    github = GitHubFake(GitHubFakeConfig(clock=config.clock, seed=config.seed))
    # One mount for OpenAI's API: chat completions (the judge's) beside transcriptions, the
    # chat fake's controls at /openai/_fake/chat/*.
    chat = OpenAIChatFake(ChatFakeConfig(clock=config.clock))
    openai_routes = [*chat.routes("/_fake/chat"), Mount("", app=transcription.asgi())]
    routes.append(Mount(TRANSCRIPTION_PREFIX, routes=openai_routes))
    routes.append(Mount(TWITCH_PREFIX, app=twitch.asgi()))
    routes.append(Mount(GITHUB_PREFIX, app=github.asgi()))
    discord = DiscordWebhookFake(DiscordFakeConfig(clock=config.clock))
    routes.append(Mount(DISCORD_PREFIX, app=discord.asgi()))
    # Hosted image models for release covers (Stability AI, Replicate).
    routes.append(Mount(STABILITY_PREFIX, app=StabilityFake(StabilityFakeConfig()).asgi()))
    routes.append(Mount(REPLICATE_PREFIX, app=ReplicateFake(ReplicateFakeConfig()).asgi()))
    # Music releases' distributor: an SFTP drop on a port of its own, run while the app is.
    distributor = FakeDistributor()
    routes.append(
        Mount(distributor_controls.PREFIX, routes=distributor_controls.routes(distributor))
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        distributor.start()
        try:
            yield
        finally:
            distributor.stop()

    app = Starlette(routes=routes, exception_handlers={HTTPException: no_fake}, lifespan=lifespan)
    app.state.distributor = distributor
    app.state.transcription = transcription
    app.state.chat = chat
    app.state.twitch = twitch
    app.state.github = github
    app.state.discord = discord
    app.state.fakes = fakes
    app.state.instance = instance
    return app
