"""Every knob of crosspost, in one place (pydantic-settings, ``CROSSPOST_`` prefix, ``.env``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crosspost.domain.enums import Platform

# Where each fake serves its OAuth token endpoint, relative to its mount (the real paths).
SANDBOX_TOKEN_PATHS: dict[Platform, str] = {
    Platform.YOUTUBE: "/token",
    Platform.TIKTOK: "/v2/oauth/token/",
    Platform.INSTAGRAM: "/refresh_access_token",
    Platform.X: "/2/oauth2/token",
    Platform.LINKEDIN: "/oauth/v2/accessToken",
    Platform.SOUNDCLOUD: "/oauth/token",
}


# The model test mode asks the sandbox's chat fake for: one it serves, whatever llm_model says.
SANDBOX_LLM_MODEL = "gpt-4o-mini"


# Where a consent's code is traded, when not at the token endpoint: Instagram's Business
# Login takes codes on api.instagram.com but refreshes on graph.instagram.com.
CODE_URLS: dict[Platform, str] = {
    Platform.INSTAGRAM: "https://api.instagram.com/oauth/access_token",
}


# Where a platform revokes a user's grant (a disconnect); Instagram's Business Login and
# SoundCloud document no such endpoint.
REVOKE_URLS: dict[Platform, str] = {
    Platform.YOUTUBE: "https://oauth2.googleapis.com/revoke",
    Platform.TIKTOK: "https://open.tiktokapis.com/v2/oauth/revoke/",
    Platform.X: "https://api.x.com/2/oauth2/revoke",
    Platform.LINKEDIN: "https://www.linkedin.com/oauth/v2/revoke",
}


# Each platform's OAuth consent page: the real one, and where its fake serves it.
AUTHORIZE_URLS: dict[Platform, str] = {
    Platform.YOUTUBE: "https://accounts.google.com/o/oauth2/v2/auth",
    Platform.TIKTOK: "https://www.tiktok.com/v2/auth/authorize/",
    Platform.INSTAGRAM: "https://www.instagram.com/oauth/authorize",
    Platform.X: "https://x.com/i/oauth2/authorize",
    Platform.LINKEDIN: "https://www.linkedin.com/oauth/v2/authorization",
    Platform.SOUNDCLOUD: "https://secure.soundcloud.com/authorize",
}


HOME_DIR = ".crosspost"


def user_home(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user home: `$XDG_DATA_HOME/crosspost`, else `~/.local/share/crosspost`."""
    env = os.environ if environ is None else environ
    data = env.get("XDG_DATA_HOME", "")
    # The XDG spec ignores a relative XDG_DATA_HOME.
    base = Path(data) if os.path.isabs(data) else Path.home() / ".local" / "share"
    return base / "crosspost"


def nearest_home(cwd: Path | None = None) -> Path | None:
    """The nearest existing `.crosspost/` folder in `cwd` or a folder above it."""
    start = (cwd or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        if (folder / HOME_DIR).is_dir():
            return folder / HOME_DIR
    return None


def locate_home() -> Path:
    """The home when CROSSPOST_HOME is not set: the nearest `.crosspost/` upward from the
    working directory, else the per-user home, so every directory finds the same state."""
    return nearest_home() or user_home()


def home_origin(home: Path, environ: Mapping[str, str] | None = None) -> str:
    """Why `home` is the home, in words, for the line commands print about it."""
    env = os.environ if environ is None else environ
    if env.get("CROSSPOST_HOME"):
        return "CROSSPOST_HOME"
    if home == nearest_home():
        return "nearest .crosspost/ from the working directory"
    if home == user_home(env):
        return "per-user default"
    return "CROSSPOST_HOME in .env"


_DDEX_COST: dict[str, float | str] = {"per_release": 9.99, "per_track": 0.0, "currency": "USD"}


class Settings(BaseSettings):
    """Runtime configuration. Defaults give the embedded deployment: SQLite and local disk."""

    model_config = SettingsConfigDict(
        env_prefix="CROSSPOST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refused value is often a secret: name the field, never echo what it was given.
        hide_input_in_errors=True,
    )

    home: Path = Field(
        default_factory=locate_home,
        description="State folder for embedded mode; default: the nearest .crosspost/ "
        "upward from the working directory, else ~/.local/share/crosspost.",
    )
    # Secret: a URL may carry a password.
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file under `home`."
    )
    media_dir: Path | None = Field(default=None, description="Media folder; default home/media.")
    media_store: str | None = Field(
        default=None,
        description="Keep media in S3-compatible object storage: s3://bucket/prefix. "
        "Credentials, region and endpoint come the usual AWS ways (AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL or a profile). Default: media_dir.",
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
    )
    media_store_addressing: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="S3 addressing style; MinIO and moto want `path`."
    )
    media_store_part_mib: int = Field(
        default=8, ge=5, le=512, description="S3 multipart part size in MiB."
    )
    redis_url: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="Base URL clients reach the API at; default http://host:port."
    )

    sandbox: bool = Field(default=False, description="Run the platform fakes and route test keys.")
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8010
    sandbox_client_id: str = "sandbox-client"
    # Plain on purpose: the fakes' published secret, the same in every sandbox.
    sandbox_client_secret: str = "sandbox-secret"
    sandbox_poll_seconds: float = Field(default=0.3, gt=0, description="Polling pace on fakes.")

    # Secrets (SecretStr: never in a repr, a dump or an error). Embedded mode generates
    # them into `home` on first start.
    master_keys: SecretStr | None = Field(
        default=None,
        description="Vault keys as 'kid:base64', comma separated; the first one encrypts.",
    )
    hash_key: SecretStr | None = Field(
        default=None, description="Base64 key for the keyed hash of API keys."
    )

    max_upload_bytes: int = 4 * 1024**3
    max_json_bytes: int = 1024 * 1024
    internal_api_key: SecretStr | None = Field(
        default=None,
        description="Enables /internal/credentials for trusted services, which send it as "
        "X-Internal-Key (serve those routes on a private network only).",
    )
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a verified API key is trusted without a look-up; a revocation "
        "reaches other API processes within this time (0 disables the cache).",
    )

    # B2B API: rate limits, request signing, OAuth2 client credentials, analytics, CORS.
    rate_limit_tiers: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {
            "free": {"requests_per_hour": 10, "requests_per_day": 100, "burst": 15},
            "pro": {"requests_per_hour": 100, "requests_per_day": 5000, "burst": 150},
            "enterprise": {"requests_per_hour": 1000, "requests_per_day": 50000, "burst": 1500},
        },
        description="Requests per hour, per day and burst of each tier (JSON).",
    )
    default_tier: str | None = Field(
        default=None,
        description="Tier of keys created without one (free, pro, enterprise); none = keys "
        "are not rate limited unless given a tier.",
    )
    rate_limit_fail_open_seconds: float = Field(
        default=300.0,
        ge=0,
        description="While Redis is unreachable, let requests through for this long (logged), "
        "then limit each API process on its own until Redis is back.",
    )
    signature_skew_seconds: int = Field(default=300, ge=1)
    signing_grace_seconds: float = Field(
        default=24 * 3600.0, ge=0, description="How long a rotated signing secret still works."
    )
    key_roll_overlap_seconds: float = Field(
        default=24 * 3600.0, ge=0, description="How long a rolled API key keeps working."
    )
    jwt_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    jwt_key_rotate_seconds: float = Field(
        default=30 * 86400.0, gt=0, description="Age at which the JWT signing key is replaced."
    )
    analytics_flush_seconds: float = Field(default=1.0, gt=0)
    analytics_retention_days: int = Field(default=90, ge=1)
    media_retention_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Days an uploaded media item that no post uses is kept before the hourly "
        "maintenance deletes it (0: kept until deleted). Media a post uses lives as long as "
        "the post.",
    )
    media_fetch_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        le=24 * 3600,
        description="A media URL (POST /v1/media {url}) not fetched whole within this long "
        "fails with fetch_timeout.",
    )
    media_fetch_max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects a media URL may take, each re-checked."
    )
    media_fetch_allow_cidrs: list[str] = Field(
        default_factory=list,
        description="Private networks media URLs may reach anyway (JSON list of CIDRs); by "
        "default only public addresses.",
    )
    tus_expiry_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="A resumable (tus) upload unfinished this long after its last bytes "
        "expires; the maintenance job deletes it.",
    )
    tus_lock_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a tus PATCH holds its upload without a byte arriving; a "
        "process that died mid-PATCH frees it after this.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list); none = CORS off."
    )

    # Outgoing webhooks.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Delay before each attempt in seconds (the first is the first attempt); "
        "each delay gets ±20% jitter.",
    )
    webhook_disable_after_seconds: float = Field(
        default=5 * 86400.0, gt=0, description="An endpoint failing this long is disabled."
    )
    webhook_disable_after_failures: int = Field(
        default=100, ge=1, description="... or after this many consecutive failed attempts."
    )
    webhook_allow_cidrs: list[str] = Field(
        default_factory=list,
        description="Private networks live-mode webhooks may reach anyway (JSON list of CIDRs).",
    )
    webhook_payload_retention_days: int = Field(default=30, ge=1, le=365)

    # People: sign-in, sessions, invitations and password resets, mail.
    session_ttl_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A session ends this long after sign-in."
    )
    session_idle_minutes: float = Field(
        default=120.0, gt=0, description="A session unused this long ends."
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row that lock an account."
    )
    login_lockout_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account refuses to sign in."
    )
    login_attempts_per_minute: int = Field(
        default=20, ge=1, description="Sign-in attempts one address may make per minute."
    )
    token_requests_per_minute: int = Field(
        default=120,
        ge=1,
        description="Requests one address, and one client, may make per minute to the OAuth "
        "token, revocation and introspection endpoints (guessing a secret stays slow).",
    )
    invitation_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    password_reset_ttl_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for invitations and password resets; none: links are only "
        "logged (the sandbox runs its own SMTP sink).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(
        default=True, description="Upgrade to TLS (STARTTLS) unless the server is loopback."
    )
    mail_from: str = Field(default="crosspost <no-reply@localhost>")

    # Exports of a tenant's history (posts, ledger, audit).
    tenant_retention_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Days a deleted tenant is kept (restorable) before its data is purged.",
    )
    webhook_max_endpoints: int = Field(
        default=50,
        ge=0,
        description="Webhook endpoints a tenant may have, unless the operator set the "
        "tenant's own webhook_max_endpoints.",
    )
    export_retention_days: int = Field(
        default=7, ge=1, le=365, description="Days a finished export file stays downloadable."
    )
    export_batch_rows: int = Field(
        default=500, ge=1, le=10_000, description="Rows an export reads per transaction."
    )
    export_max_active: int = Field(
        default=3, ge=1, description="Exports a tenant may have queued or running at once."
    )

    workers: int = Field(default=4, ge=0, description="Worker threads in `serve`.")
    render_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Clip renders (and other studio jobs) a worker process runs at once, in "
        "a pool of their own so they never hold up publishing; 0: none in this process.",
    )
    render_progress_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a render records its progress (frames done) at most.",
    )
    database_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads an API process runs PostgreSQL work on at once (more only take "
        "turns at the GIL; fewer queue requests behind a slow statement).",
    )
    api_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes `serve` runs on its port (more than one needs redis_url: "
        "rate limits must be shared by every process).",
    )
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_poll_seconds: float = Field(default=0.5, gt=0)
    job_batch_size: int = Field(default=16, ge=1)
    job_max_errors: int = Field(default=10, ge=1)
    job_backoff_base: float = 2.0
    job_backoff_cap: float = 3600.0

    target_max_transient_errors: int = Field(
        default=8,
        ge=1,
        description="Transient platform errors in a row on one step before a target fails "
        "(never while the outcome of its publish call is unknown).",
    )
    processing_poll_seconds: float = Field(default=15.0, gt=0)
    processing_timeout_seconds: float = Field(default=3 * 3600.0, gt=0)

    upload_chunk_bytes: int = Field(default=8 * 1024 * 1024, ge=256 * 1024)
    job_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a finished job (`/v1/jobs`) is kept; the hourly maintenance "
        "deletes older ones (seed 002: 24 h).",
    )
    account_check_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often every account's token is refreshed ahead of expiry and its "
        "owner checked with the platform (0 turns the check off).",
    )
    commit_settle_seconds: float = Field(
        default=150.0,
        ge=0,
        description="After a worker dies or loses its lease during a publish call, wait this "
        "long (longer than any such call can last) before asking the platform whether the "
        "post exists, so a late-landing call cannot be followed by a second post.",
    )
    pacing: bool = Field(
        default=True,
        description="Spend the platforms' documented call budgets before calling (off only "
        "for benchmarks against fakes whose limits are lifted).",
    )
    post_metrics_after_hours: list[float] = Field(
        default_factory=lambda: [1.0, 6.0, 24.0, 72.0, 168.0],
        description="Hours after a target is published at which its metrics are fetched from "
        "the platform (JSON list); an empty list fetches none.",
    )
    post_metrics_every_hours: float = Field(
        default=168.0,
        gt=0,
        description="After the last of `post_metrics_after_hours`, fetch again this often …",
    )
    post_metrics_for_days: float = Field(
        default=90.0,
        ge=0,
        description="… until this many days after publishing.",
    )
    post_metrics_plan_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often newly published targets are given their metrics schedule.",
    )

    # Platform endpoints: real defaults; sandbox and test keys point at the fakes.
    youtube_api_base: str = "https://www.googleapis.com"
    youtube_token_url: str = "https://oauth2.googleapis.com/token"
    youtube_client_id: str | None = None
    youtube_client_secret: SecretStr | None = None
    youtube_quota_model: Literal["buckets", "legacy"] = Field(
        default="buckets",
        description="'buckets': videos.insert has its own 100 calls/day; 'legacy': an upload "
        "costs 1600 of the 10,000 daily units.",
    )
    youtube_daily_units: int = Field(default=10_000, ge=1)
    youtube_insert_calls_per_day: int = Field(default=100, ge=1)
    tiktok_api_base: str = "https://open.tiktokapis.com"
    tiktok_token_url: str = "https://open.tiktokapis.com/v2/oauth/token/"
    tiktok_client_key: str | None = None
    tiktok_client_secret: SecretStr | None = None
    instagram_api_base: str = "https://graph.instagram.com"
    instagram_token_url: str = "https://graph.instagram.com/refresh_access_token"
    instagram_client_id: str | None = None
    instagram_client_secret: SecretStr | None = None
    x_api_base: str = "https://api.x.com"
    x_token_url: str = "https://api.x.com/2/oauth2/token"
    x_client_id: str | None = None
    x_client_secret: SecretStr | None = None
    linkedin_api_base: str = "https://api.linkedin.com"
    linkedin_token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    linkedin_client_id: str | None = None
    linkedin_client_secret: SecretStr | None = None
    soundcloud_api_base: str = "https://api.soundcloud.com"
    soundcloud_token_url: str = "https://secure.soundcloud.com/oauth/token"
    soundcloud_client_id: str | None = None
    soundcloud_client_secret: SecretStr | None = None

    # Transcription (the clip studio): any OpenAI-compatible /v1/audio/transcriptions API
    # (OpenAI, or a Whisper server of one's own). Test keys use the sandbox's fake.
    transcription_base_url: str = Field(
        default="https://api.openai.com/v1", description="Base URL of the transcription API."
    )
    transcription_api_key: SecretStr | None = Field(
        default=None, description="Bearer key of the transcription API (live keys only)."
    )
    transcription_model: str = Field(default="whisper-1", max_length=100)
    transcription_timeout_seconds: float = Field(default=600.0, gt=0)
    # Plain on purpose: the sandbox fake's published key, the same in every sandbox.
    sandbox_transcription_key: str = "sk-sandbox-transcription"

    # The LLM (the content pipeline's judge, and prose): any OpenAI-compatible
    # /v1/chat/completions API with strict json_schema answers. Test keys use the sandbox's
    # fake, which takes the sandbox transcription key.
    llm_base_url: str = Field(
        default="https://api.openai.com/v1", description="Base URL of the chat completions API."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="Bearer key of the chat completions API (live keys only)."
    )
    llm_model: str = Field(default="gpt-4o-mini", max_length=100)
    llm_timeout_seconds: float = Field(default=120.0, gt=0)

    # The content pipeline's sources (seed 002): Twitch's API for a channel's clips, with
    # this app's credentials (dev.twitch.tv/console), and GitHub's REST API with each
    # pipeline's own token. Test-mode pipelines use the sandbox's fakes.
    twitch_client_id: str | None = None
    twitch_client_secret: SecretStr | None = None
    twitch_auth_base: str = "https://id.twitch.tv"
    twitch_api_base: str = "https://api.twitch.tv"
    github_api_base: str = "https://api.github.com"
    # Plain on purpose: the sandbox Twitch fake's published app credentials.
    sandbox_twitch_client_id: str = "crosspostsandboxclient00000001"
    sandbox_twitch_client_secret: str = "crosspostsandboxsecret00000001"
    # The GitHub fake's published token (admin on its sample repository): a test pipeline
    # without a token of its own reads with it.
    sandbox_github_token: str = (
        "github_pat_11SANDBOX0CROSSPOST000_"
        "adminOnSandboxDevCrosspostDemo0publishedFakeSandboxToken000"
    )

    # Music releases (seed 003): who crosspost is in DDEX messages and the distributor it
    # delivers batches to by SFTP (its host key pinned). Test-mode releases go to the
    # sandbox's fake distributor, found over the sandbox's HTTP port.
    ddex_sender_dpid: str | None = Field(
        default=None, description="This operator's DDEX Party ID (PADPIDA…), from DDEX."
    )
    ddex_sender_name: str = Field(default="crosspost", max_length=200)
    ddex_recipient_dpid: str | None = Field(
        default=None, description="The distributor's DDEX Party ID (PADPIDA…)."
    )
    ddex_recipient_name: str = Field(default="Distributor", max_length=200)
    distributor_sftp_host: str | None = None
    distributor_sftp_port: int = Field(default=22, ge=1, le=65535)
    distributor_sftp_username: str | None = None
    distributor_sftp_password: SecretStr | None = None
    distributor_sftp_private_key: SecretStr | None = Field(
        default=None, description="An OpenSSH or PEM private key, instead of a password."
    )
    distributor_sftp_host_key: str | None = Field(
        default=None, description="The distributor's public host key line, which is pinned."
    )
    distributor_sftp_root: str = "/"
    # What each channel charges, shown before a release is sent (JSON, per channel:
    # per_release and per_track amounts in a currency): the operator's distributor's prices.
    distribution_costs: dict[str, dict[str, float | str]] = Field(
        default_factory=lambda: {"ddex": _DDEX_COST},
        description="Per channel: per_release, per_track and currency (JSON).",
    )
    # Hosted image models for release covers (the built-in generator needs no key).
    stability_api_key: SecretStr | None = None
    stability_base_url: str = "https://api.stability.ai"
    replicate_api_token: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com"
    replicate_model: str = Field(default="black-forest-labs/flux-schnell", max_length=200)
    # Plain on purpose: the sandbox fakes' published keys.
    sandbox_stability_key: str = "sk-sandbox-stability"
    sandbox_replicate_token: str = "r8_sandbox-replicate"
    # How often a distribution reads the distributor's acknowledgements and status reports.
    distribution_poll_seconds: float = Field(default=60.0, gt=0)
    # … and while the stores hold it for its release date.
    distribution_scheduled_poll_seconds: float = Field(default=3600.0, gt=0)
    # The sandbox's DDEX parties (plain on purpose: the fake distributor's published ones).
    sandbox_ddex_sender_dpid: str = "PADPIDA0CROSSPOSTSANDBOX"
    sandbox_ddex_recipient_dpid: str = "PADPIDA0FAKEDISTRIBUTOR"

    # Fault injection for the sandbox fakes (also settable at runtime on /_fake/faults).
    fake_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fake_latency_ms: int = Field(default=0, ge=0)
    fake_processing_seconds: float = Field(default=0.2, ge=0.0)
    fake_rate_limits: bool = Field(
        default=True,
        description="Enforce the platforms' real rate limits and daily quotas in the fakes.",
    )

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        # Every message names the home: relative to where the command ran says too little.
        return value.expanduser().absolute()

    @field_validator("post_metrics_after_hours")
    @classmethod
    def _positive_hours(cls, value: list[float]) -> list[float]:
        if any(hours <= 0 for hours in value):
            raise ValueError("every delay must be a positive number of hours")
        return sorted(set(value))

    @field_validator("internal_api_key")
    @classmethod
    def _long_internal_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 random characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("master_keys", "hash_key", "internal_api_key")
    @classmethod
    def _reject_example_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        example = {"changeme", "changethis", "secret"}
        if value is not None and value.get_secret_value().strip().lower() in example:
            raise ValueError("replace the example secret with a generated key")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded SQLite default filled in."""
        if self.database_url and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.home / 'crosspost.db').resolve()}"

    @property
    def resolved_redis_url(self) -> str | None:
        """The Redis URL, when one is configured."""
        return self.redis_url.get_secret_value() if self.redis_url else None

    @property
    def resolved_media_dir(self) -> Path:
        """Where local media files live."""
        return (self.media_dir or self.home / "media").resolve()

    @property
    def base_url(self) -> str:
        """The API's externally reachable base URL."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sandbox_base_url(self) -> str:
        """Where the platform fakes listen."""
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    def platform_base(self, platform: Platform, *, test_mode: bool) -> str:
        """API base URL for a platform: the fake for test-mode accounts, the real one otherwise."""
        if test_mode:
            return f"{self.sandbox_base_url}/{platform.value}"
        return str(getattr(self, f"{platform.value}_api_base"))

    def transcription(self, *, test_mode: bool) -> tuple[str, str | None]:
        """The transcription API's base URL and key: the sandbox fake's for test mode."""
        if test_mode:
            return f"{self.sandbox_base_url}/openai/v1", self.sandbox_transcription_key
        key = self.transcription_api_key
        return self.transcription_base_url, key.get_secret_value() if key else None

    def llm(self, *, test_mode: bool) -> tuple[str, str | None, str]:
        """The chat completions API's base URL, key and model: the sandbox fake's for test
        mode (it shares the transcription fake's mount and key)."""
        if test_mode:
            base = f"{self.sandbox_base_url}/openai/v1"
            return base, self.sandbox_transcription_key, SANDBOX_LLM_MODEL
        key = self.llm_api_key
        return self.llm_base_url, key.get_secret_value() if key else None, self.llm_model

    def twitch(self, *, test_mode: bool) -> tuple[str, str, str | None, str | None]:
        """Twitch's auth and API bases and this app's client id and secret: the sandbox
        fake's for test mode."""
        if test_mode:
            base = f"{self.sandbox_base_url}/twitch"
            return base, base, self.sandbox_twitch_client_id, self.sandbox_twitch_client_secret
        secret = self.twitch_client_secret.get_secret_value() if self.twitch_client_secret else None
        return self.twitch_auth_base, self.twitch_api_base, self.twitch_client_id, secret

    def image_model(self, name: str, *, test_mode: bool) -> tuple[str, str | None]:
        """A hosted image model's base URL and key (`stability` or `replicate`): the
        sandbox fake's for test mode."""
        if test_mode:
            key = (
                self.sandbox_stability_key if name == "stability" else self.sandbox_replicate_token
            )
            return f"{self.sandbox_base_url}/{name}", key
        secret = self.stability_api_key if name == "stability" else self.replicate_api_token
        base = self.stability_base_url if name == "stability" else self.replicate_base_url
        return base, secret.get_secret_value() if secret else None

    def discord_base(self, *, test_mode: bool) -> str | None:
        """The Discord API base the notifier posts to in the sandbox (its fake's), or None
        for Discord itself: live webhooks only ever go to discord.com."""
        return f"{self.sandbox_base_url}/discord/api/v10" if test_mode else None

    def github_base(self, *, test_mode: bool) -> str:
        """GitHub's REST API base: the sandbox fake's for test mode."""
        return f"{self.sandbox_base_url}/github" if test_mode else self.github_api_base

    def token_url(self, platform: Platform, *, test_mode: bool) -> str:
        """OAuth token endpoint for a platform (the fake's own path in test mode)."""
        if test_mode:
            return f"{self.sandbox_base_url}/{platform.value}{SANDBOX_TOKEN_PATHS[platform]}"
        return str(getattr(self, f"{platform.value}_token_url"))

    def code_url(self, platform: Platform, *, test_mode: bool) -> str | None:
        """Where a platform trades authorization codes, when that is not its token URL."""
        url = CODE_URLS.get(platform)
        if url is None or not test_mode:
            return url
        return f"{self.sandbox_base_url}/{platform.value}{urlsplit(url).path}"

    def revoke_url(self, platform: Platform, *, test_mode: bool) -> str | None:
        """Where a platform revokes a grant (the fake's path in test mode); None when it
        offers no revocation."""
        url = REVOKE_URLS.get(platform)
        if url is None or not test_mode:
            return url
        return f"{self.sandbox_base_url}/{platform.value}{urlsplit(url).path}"

    def authorize_url(self, platform: Platform, *, test_mode: bool) -> str:
        """The platform's OAuth consent page (the fake's in test mode)."""
        if test_mode:
            path = urlsplit(AUTHORIZE_URLS[platform]).path
            return f"{self.sandbox_base_url}/{platform.value}{path}"
        return AUTHORIZE_URLS[platform]

    @property
    def oauth_callback_url(self) -> str:
        """Where platforms send the user back after consent (register it with each app)."""
        return f"{self.base_url}/v1/oauth/callback"

    def client_options(self, platform: Platform) -> dict[str, Any]:
        """Extra constructor arguments of a platform's client (its quota settings)."""
        if platform is Platform.YOUTUBE:
            return {
                "quota_model": self.youtube_quota_model,
                "daily_units": self.youtube_daily_units,
                "insert_calls_per_day": self.youtube_insert_calls_per_day,
            }
        return {}

    def client_credentials(
        self, platform: Platform, *, test_mode: bool = False
    ) -> tuple[str | None, str | None]:
        """The app's OAuth client id and secret for a platform (the fakes' in test mode)."""
        if test_mode:
            return self.sandbox_client_id, self.sandbox_client_secret
        # TikTok calls its client id a "client key"; every other platform a "client id".
        name = "client_key" if platform is Platform.TIKTOK else "client_id"
        secret: SecretStr | None = getattr(self, f"{platform.value}_client_secret")
        return (
            getattr(self, f"{platform.value}_{name}"),
            secret.get_secret_value() if secret else None,
        )
