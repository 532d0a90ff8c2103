"""Each platform's options model: what the API accepts, what the client reads, what the README
documents are one list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crosspost.domain.enums import ErrorKind, Platform
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.registry import CLIENTS, client_for
from crosspost.platforms.youtube_rules import YouTubeOptions

README = Path(__file__).resolve().parents[2] / "README.md"
# Backticked words in the README's option lists that are not options themselves.
NOT_OPTIONS = {"publish_at", "thumbnail_failed"}


def _readme_bullets() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Overrides**") : text.index("**Post types.**")]
    bullets = re.findall(r"^- `(\w+)`: (.*?)(?=^- |^\n)", section, flags=re.S | re.M)
    return dict(bullets)


@pytest.mark.parametrize("platform", list(CLIENTS))
def test_the_readme_lists_exactly_each_platforms_options(platform: Platform) -> None:
    """The README's bullet for a platform names every option its model accepts (besides the
    common `text`) and no option it does not."""
    model = client_for(platform).options_model
    assert model.platform == platform.value
    bullet = _readme_bullets()[platform.value]
    documented = set(re.findall(r"`([a-z_]+)`", bullet)) - NOT_OPTIONS
    assert documented == set(model.accepted()) - {"text"}


def test_problems_name_the_key_and_the_choices() -> None:
    """An unknown key lists the platform's options; a value outside its choices lists them;
    a single tag is a one-tag list (a string was once split into its characters)."""
    unknown, wrong = YouTubeOptions.problems({"poll_choices": "x", "privacy_status": 5})
    assert (unknown.code, unknown.option) == ("unknown_override", "poll_choices")
    assert unknown.message.endswith(", ".join(YouTubeOptions.accepted()))
    assert (wrong.code, wrong.option) == ("invalid_override", "privacy_status")
    assert "'public', 'unlisted' or 'private' (got 5)" in wrong.message
    assert YouTubeOptions.problems({"tags": "launch"}) == []
    assert YouTubeOptions.read({"tags": "launch"}).tags == ["launch"]


def test_reading_stored_options_ignores_unknown_keys_and_refuses_bad_values() -> None:
    """Options stored before they were checked: an unknown key is ignored (it always was);
    a value the client cannot use is a permanent, explained failure."""
    assert YouTubeOptions.read({"poll_choices": "x"}).privacy_status == "public"
    with pytest.raises(PlatformError) as caught:
        YouTubeOptions.read({"privacy_status": "friends"})
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "invalid_override")
    assert "overrides.youtube.privacy_status" in caught.value.message
