"""The long-lived objects the engine works with, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from crosspost.clock import Clock, SystemClock
from crosspost.config import Settings
from crosspost.jobs import JobStore, create_job_store
from crosspost.jobs.backoff import Backoff
from crosspost.media.storage import MediaStorage
from crosspost.media.storage_local import LocalStorage
from crosspost.platforms.http import new_http_client
from crosspost.store.db import Database
from crosspost.vault.keyring import Keyring, load_hash_key, load_keyring


@dataclass
class Services:
    """Database, job store, vault, media storage, HTTP client and clock for one process."""

    settings: Settings
    db: Database
    jobs: JobStore
    keyring: Keyring
    hash_key: bytes = field(repr=False)
    storage: MediaStorage
    http: httpx.Client
    backoff: Backoff
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """Wire everything from settings (no import-time globals)."""
        clock = clock or SystemClock()
        db = Database(
            settings.resolved_database_url,
            pool_size=max(10, settings.workers + 6),
            run_threads=settings.database_threads,
        )
        return cls(
            settings=settings,
            db=db,
            jobs=create_job_store(db, clock=clock),
            keyring=load_keyring(settings),
            hash_key=load_hash_key(settings),
            storage=build_storage(settings),
            http=new_http_client(),
            backoff=Backoff.from_settings(settings),
            clock=clock,
        )

    def upgrade_database(self) -> None:
        """Bring the schema to the newest revision, then seal what older ones left plain."""
        # Imported here: the migration machinery (alembic) is needed only at startup.
        from crosspost.store import migrate  # noqa: PLC0415
        from crosspost.webhooks.endpoints import seal_plain_headers  # noqa: PLC0415

        migrate.upgrade(self.db)
        seal_plain_headers(self.db, self.keyring)

    def close(self) -> None:
        """Release connections."""
        self.http.close()
        self.db.dispose()


def build_storage(settings: Settings) -> MediaStorage:
    """The media store the settings name: S3-compatible when `media_store` is set (staging
    and temp copies then under `media_dir`), else local disk under `media_dir`."""
    if settings.media_store is None:
        return LocalStorage(settings.resolved_media_dir)
    # boto3 costs a tenth of a second per process start: only the S3 store pays for it.
    from crosspost.media.storage_s3 import S3Storage, parse_store_url  # noqa: PLC0415

    bucket, prefix = parse_store_url(settings.media_store)
    return S3Storage(
        bucket,
        prefix,
        local_dir=settings.resolved_media_dir,
        addressing_style=settings.media_store_addressing,
        part_size=settings.media_store_part_mib * 1024 * 1024,
    )
