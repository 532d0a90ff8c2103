"""What each client says its next call spends, so the engine can pace before the 429."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosspost.domain.limits import Rate
from crosspost.platforms.base import MediaFile
from crosspost.platforms.http import new_http_client
from crosspost.platforms.tiktok import CREATOR_INFO_RATE, INIT_RATE, STATUS_RATE, TikTokClient
from crosspost.platforms.x import MEDIA_STATUS_RATE, MEDIA_UPLOAD_RATE, TWEET_RATES, XClient
from crosspost.platforms.youtube import YouTubeClient

from .conftest import make_media, make_request


@pytest.fixture
def video(tmp_path: Path) -> MediaFile:
    """A small media file (budgets depend on the phase, not on the bytes)."""
    return make_media(tmp_path, 1024)


def test_youtube_bucket_and_legacy_quota_models(video: MediaFile) -> None:
    """Buckets: an upload spends one of 100 daily insert calls; legacy: 1600 of 10,000 units.
    Polls spend one unit; chunk PUTs are free. Both are per project, not per account."""
    request = make_request(video)
    with new_http_client() as http:
        buckets = YouTubeClient(http, "http://fake")
        legacy = YouTubeClient(http, "http://fake", quota_model="legacy")
        assert buckets.budgets(request, {}) == (
            Rate("videos.insert", 100, 86400.0, per_account=False),
        )
        assert legacy.budgets(request, {}) == (
            Rate("units", 10_000, 86400.0, per_account=False, cost=1600),
        )
        for client in (buckets, legacy):
            assert client.budgets(request, {"phase": "upload"}) == ()
            polled = client.budgets(request, {"phase": "processing"})
            assert polled == (Rate("units", 10_000, 86400.0, per_account=False),)
            assert client.budgets(request, {"phase": "upload_final", "commit_attempted": True})
        with pytest.raises(ValueError, match="quota_model"):
            YouTubeClient(http, "http://fake", quota_model="weekly")


def test_tiktok_and_x_per_token_windows(video: MediaFile) -> None:
    """TikTok: creator info, init and status each have their per-minute window; X: posts,
    media commands and status checks; a text post's first (call-free) step spends nothing."""
    request = make_request(video)
    text_only = make_request(None)
    with new_http_client() as http:
        tiktok = TikTokClient(http, "http://fake")
        assert tiktok.budgets(request, {}) == (CREATOR_INFO_RATE,)
        assert tiktok.budgets(request, {"phase": "init"}) == (INIT_RATE,)
        assert tiktok.budgets(request, {"phase": "upload"}) == ()
        assert tiktok.budgets(request, {"phase": "status"}) == (STATUS_RATE,)
        x = XClient(http, "http://fake")
        assert x.budgets(request, {}) == (MEDIA_UPLOAD_RATE,)
        assert x.budgets(request, {"phase": "append"}) == (MEDIA_UPLOAD_RATE,)
        assert x.budgets(request, {"phase": "status"}) == (MEDIA_STATUS_RATE,)
        assert x.budgets(request, {"phase": "tweet"}) == TWEET_RATES
        assert x.budgets(text_only, {}) == ()
        assert x.budgets(text_only, {"phase": "tweet"}) == TWEET_RATES
