"""Music releases over the API: masters and artwork uploaded as media, a release made of
them with its metadata checked, duplicates refused, replaced, deleted; SQLite and
PostgreSQL."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Stack, expect_problem
from tests.e2e.music import OTHER_UPC, UPC, jpeg, masters, release_body, upload, wav


def test_a_release_is_stored_with_what_its_masters_are(stack: Stack) -> None:
    """The identifiers come back normalised, the lines written out, each master described,
    the release explicit because a track is; read back, listed, and the same again."""
    first, second, art = masters(stack)
    made = stack.http.post("/v1/releases", json=release_body([first, second], art))
    assert made.status_code == 201, made.text
    release = made.json()
    assert release["upc"] == UPC and release["territories"] == ["Worldwide"]
    assert release["p_line"] == "℗ 2026 Example Records"
    assert release["c_line"] == "© 2026 Example Records"
    assert release["parental_warning"] == "explicit"
    one, two = release["tracks"]
    assert (one["position"], one["isrc"], one["language"]) == (1, "USS1Z2600001", "en")
    assert one["artists"] == release["artists"]  # the release's when a track names none
    assert (one["master"]["bit_depth"], one["master"]["sample_rate"]) == (16, 44_100)
    assert (two["master"]["bit_depth"], two["master"]["sample_rate"]) == (24, 48_000)
    assert abs(two["master"]["duration_seconds"] - 2.5) < 0.01
    assert abs(release["duration_seconds"] - 4.5) < 0.02
    assert stack.http.get(f"/v1/releases/{release['id']}").json() == release
    listed = stack.http.get("/v1/releases").json()["data"]
    assert [r["id"] for r in listed] == [release["id"]]


def test_every_broken_rule_is_named_with_its_field(stack: Stack) -> None:
    """One request breaking many rules: each refusal listed with its field and code, and
    nothing stored."""
    low_rate = upload(stack, wav(rate=22_050), "audio/wav", "low.wav")
    clipped = upload(stack, wav(gain=1.6), "audio/wav", "loud.wav")
    small_art = upload(stack, jpeg(2999), "image/jpeg", "small.jpg")
    body = release_body(
        [low_rate, clipped],
        small_art,
        upc="036000291453",
        territories=["DE", "XX"],
        language="english",
    )
    body["tracks"][0]["isrc"] = "US-S1Z-26-001"
    problem = expect_problem(stack.http.post("/v1/releases", json=body), 422)
    codes = {(e["field"], e["type"]) for e in problem["errors"]}
    assert {
        ("upc", "upc_check_digit"),
        ("territories", "invalid_territory"),
        ("language", "invalid_language"),
        ("tracks[0].isrc", "invalid_isrc"),
    } <= codes, codes
    assert "should be 2" in problem["detail"]
    # The formats are fixed first; then the files are read and judged.
    body.update(upc=UPC, territories=["DE", "FR"], language="en")
    body["tracks"][0]["isrc"] = "USS1Z2600001"
    problem = expect_problem(stack.http.post("/v1/releases", json=body), 422)
    codes = {(e["field"], e["type"]) for e in problem["errors"]}
    assert codes == {
        ("tracks[0].media_id", "master_sample_rate"),
        ("tracks[1].media_id", "master_clipping"),
        ("artwork_media_id", "artwork_too_small"),
    }, codes
    assert stack.http.get("/v1/releases").json()["data"] == []


def test_identifiers_are_held_by_one_release(stack: Stack) -> None:
    """An ISRC or a UPC another release holds is a 409 naming it; an ISRC twice in one
    release is a 422; an unknown or wrong-kind media item is named."""
    first, second, art = masters(stack)
    made = stack.http.post("/v1/releases", json=release_body([first], art)).json()
    again = release_body([second], art, upc=OTHER_UPC)
    again["tracks"][0]["isrc"] = "USS1Z2600001"
    taken = expect_problem(stack.http.post("/v1/releases", json=again), 409, "isrc_in_use")
    assert made["id"] in taken["detail"]
    same_upc = release_body([second], art)
    same_upc["tracks"][0]["isrc"] = "USS1Z2600009"
    held = expect_problem(stack.http.post("/v1/releases", json=same_upc), 409, "upc_in_use")
    assert made["id"] in held["detail"]
    twice = release_body([first, second], art, upc=OTHER_UPC)
    twice["tracks"][1]["isrc"] = twice["tracks"][0]["isrc"] = "USS1Z2600007"
    problem = expect_problem(stack.http.post("/v1/releases", json=twice), 422, "duplicate_isrc")
    assert problem["errors"][0]["field"] == "tracks[1].isrc"
    wrong = release_body([art], "med_nope", upc=OTHER_UPC)
    wrong["tracks"][0]["isrc"] = "USS1Z2600008"
    problem = expect_problem(stack.http.post("/v1/releases", json=wrong), 422)
    assert {(e["field"], e["type"]) for e in problem["errors"]} == {
        ("tracks[0].media_id", "media_wrong_kind"),
        ("artwork_media_id", "media_not_found"),
    }


def test_a_type_the_stores_would_not_give_is_refused(stack: Stack) -> None:
    """Two short tracks are a single to the stores, whatever the release says."""
    first, second, art = masters(stack)
    problem = expect_problem(
        stack.http.post("/v1/releases", json=release_body([first, second], art, type="album")),
        422,
        "release_type_mismatch",
    )
    assert "set type single" in problem["detail"]


def test_replaced_deleted_and_holding_its_media(stack: Stack) -> None:
    """A PUT replaces the release whole (tracks reordered); its media cannot be deleted
    while it holds them; once deleted, they can. Another tenant sees nothing; an
    Idempotency-Key replays the first answer."""
    first, second, art = masters(stack)
    headers = {"Idempotency-Key": "release-1"}
    body = release_body([first, second], art)
    made = stack.http.post("/v1/releases", json=body, headers=headers)
    replay = stack.http.post("/v1/releases", json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == made.json()
    release = made.json()
    swapped = release_body([second, first], art, title="First Light (Deluxe)")
    swapped["tracks"][0]["isrc"], swapped["tracks"][1]["isrc"] = "USS1Z2600002", "USS1Z2600001"
    put = stack.http.put(f"/v1/releases/{release['id']}", json=swapped)
    assert put.status_code == 200, put.text
    changed = put.json()
    assert changed["title"] == "First Light (Deluxe)"
    assert [t["media_id"] for t in changed["tracks"]] == [second, first]
    assert changed["created_at"] == release["created_at"]
    in_use = stack.http.delete(f"/v1/media/{first}")
    assert "release" in expect_problem(in_use, 409, "media_in_use")["detail"]
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.other_tenant_key()}"}
    ) as other:
        assert other.get(f"/v1/releases/{release['id']}").status_code == 404
        assert other.delete(f"/v1/releases/{release['id']}").status_code == 404
    assert stack.http.delete(f"/v1/releases/{release['id']}").status_code == 204
    expect_problem(stack.http.get(f"/v1/releases/{release['id']}"), 404, "release_not_found")
    assert stack.http.delete(f"/v1/media/{first}").status_code == 204
