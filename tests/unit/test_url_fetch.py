"""What a media URL shows by itself: refused before any connection when its address lies
inside a network (the cloud metadata address among them), or when it is malformed; shown
without its query string."""

from __future__ import annotations

import pytest

from crosspost.engine.url_fetch import FetchError, check_url, file_name, media_policy, shown_url

PUBLIC_ONLY = media_policy([])


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.5/a.mp4",
        "http://192.168.1.1/a.mp4",
        "http://100.64.0.1/a.mp4",
        "http://127.0.0.1:8000/a.mp4",
        "http://2130706433/a.mp4",  # 127.0.0.1 as one number
        "http://0x7f.1/a.mp4",
        "http://[::1]/a.mp4",
        "http://[fe80::1]/a.mp4",
        "http://[fd00::1]/a.mp4",
        "http://[::ffff:10.0.0.5]/a.mp4",
        "http://[64:ff9b::a00:5]/a.mp4",  # NAT64 of 10.0.0.5
        "http://0.0.0.0/a.mp4",
    ],
)
def test_an_address_inside_a_network_is_refused(url: str) -> None:
    with pytest.raises(FetchError) as refused:
        check_url(url, PUBLIC_ONLY)
    assert refused.value.code == "url_not_allowed"
    assert "CROSSPOST_MEDIA_FETCH_ALLOW_CIDRS" in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.mp4", "https://u:p@example.com/a.mp4",
     "https:///a.mp4", "http://exa mple.com/a.mp4", "gopher://example.com/"],
)  # fmt: skip
def test_a_malformed_url_is_refused(url: str) -> None:
    with pytest.raises(FetchError) as refused:
        check_url(url, PUBLIC_ONLY)
    assert refused.value.code == "invalid_url"


def test_public_addresses_names_and_allowed_networks_pass() -> None:
    assert check_url("https://93.184.215.14/a.mp4", PUBLIC_ONLY).host == "93.184.215.14"
    # A name is judged when connecting, against the addresses it resolves to.
    assert check_url("https://cdn.example.com/a.mp4", PUBLIC_ONLY).host == "cdn.example.com"
    allowed = media_policy(["10.20.0.0/16"])
    assert check_url("http://10.20.3.4/a.mp4", allowed).host == "10.20.3.4"
    with pytest.raises(FetchError):
        check_url("http://10.21.3.4/a.mp4", allowed)


def test_urls_are_shown_without_their_query_and_named_by_their_path() -> None:
    url = check_url("https://cdn.example.com:8443/clips/launch%20day.mp4?X-Sig=s3cr3t", PUBLIC_ONLY)
    assert shown_url(url) == "https://cdn.example.com:8443/clips/launch%20day.mp4?…"
    assert file_name(url) == "launch day.mp4"
    assert file_name(check_url("https://cdn.example.com/", PUBLIC_ONLY)) is None
