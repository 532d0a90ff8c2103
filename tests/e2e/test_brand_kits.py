"""Brand kits over real HTTP on SQLite and PostgreSQL: created with defaults, listed with
cursors, read, merge-patched and deleted; every bad value refused with a 422 naming its
field; the media a kit uses kept from deletion; one tenant's kits invisible to another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.ids import new_id
from crosspost.media.samples import make_audio, make_image, make_video
from crosspost.store import media as media_rows
from crosspost.store.tables_studio import projects
from tests.e2e.conftest import Stack, expect_problem

DEFAULTS = {
    "logo_media_id": None,
    "intro_media_id": None,
    "outro_media_id": None,
    "logo": {"position": "top-right", "scale": 0.18, "opacity": 0.85, "margin": 0.04},
    "colors": {"background": "#000000", "primary": "#ffffff", "accent": "#ffd400"},
    "caption_style": {
        "font_size": 0.065,
        "color": "#ffffff",
        "outline_color": "#000000",
        "outline_width": 0.1,
        "position": "bottom",
        "max_chars_per_line": 24,
        "max_lines": 2,
        "highlight_color": "#ffd400",
    },
    "default_aspect": "9:16",
}


def _upload(http: httpx.Client, path: Path, content_type: str) -> str:
    headers = {"Content-Type": content_type, "X-Filename": path.name}
    answer = http.post("/v1/media", content=path.read_bytes(), headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _logo(http: httpx.Client, tmp_path: Path, size: tuple[int, int] = (128, 64)) -> str:
    """A PNG with transparency, as logos are."""
    path = tmp_path / f"logo-{size[0]}x{size[1]}.png"
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    picture.paste((230, 60, 20, 255), (4, 4, size[0] - 4, size[1] - 4))
    picture.save(path)
    return _upload(http, path, "image/png")


def _video(http: httpx.Client, tmp_path: Path, seconds: float) -> str:
    path = make_video(tmp_path / f"bumper-{seconds}.mp4", seconds=seconds, width=160, height=90)
    return _upload(http, path, "video/mp4")


def _tenant_b(stack: Stack) -> httpx.Client:
    """Another tenant's client, with an owner key (every scope)."""
    key = stack.other_tenant_key()
    return httpx.Client(base_url=stack.api_url, headers={"X-API-Key": key}, timeout=30)


def _create(stack: Stack, **body: Any) -> dict[str, Any]:
    answer = stack.http.post("/v1/brand-kits", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _fields(kit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kit.items() if k not in ("id", "name", "created_at", "updated_at")}


def test_a_kit_gets_every_default_and_reads_back_the_same(
    make_stack: Callable[..., Stack],
) -> None:
    """Only a name: every other setting is the renderer's default; GET and the list show
    the same kit."""
    stack = make_stack(workers=0)
    kit = _create(stack, name="Plain")
    assert kit["id"].startswith("bk_") and kit["name"] == "Plain"
    assert _fields(kit) == DEFAULTS
    assert kit["created_at"] == kit["updated_at"]
    assert stack.http.get(f"/v1/brand-kits/{kit['id']}").json() == kit
    listed = stack.http.get("/v1/brand-kits").json()
    assert listed == {"data": [kit], "has_more": False, "next_cursor": None}


def test_a_full_kit_keeps_what_it_was_given_with_colours_normalised(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Logo (PNG with alpha), intro, outro and every setting are kept; #rgb and upper-case
    colours come back as lower-case #rrggbb; a null highlight stays null."""
    stack = make_stack(workers=0)
    logo, intro = _logo(stack.http, tmp_path), _video(stack.http, tmp_path, 1.0)
    jpeg = _upload(stack.http, make_image(tmp_path / "logo.jpg", 64, 64), "image/jpeg")
    webp = _upload(stack.http, make_image(tmp_path / "logo.webp", 64, 64), "image/webp")
    body = {
        "name": "Acme",
        "logo_media_id": logo,
        "intro_media_id": intro,
        "outro_media_id": intro,
        "logo": {"position": "bottom-left", "scale": 0.5, "opacity": 1, "margin": 0},
        "colors": {"background": "#F60", "primary": "#AbCdEf", "accent": "#123"},
        "caption_style": {"font_size": 0.25, "color": "#0f0", "outline_width": 0,
                          "position": "top", "max_chars_per_line": 60, "max_lines": 3,
                          "highlight_color": None},
        "default_aspect": "4:5",
    }  # fmt: skip
    kit = _create(stack, **body)
    assert kit["logo"] == body["logo"]
    assert kit["colors"] == {"background": "#ff6600", "primary": "#abcdef", "accent": "#112233"}
    assert kit["caption_style"] == {**DEFAULTS["caption_style"], "font_size": 0.25,
                                    "color": "#00ff00", "outline_width": 0, "position": "top",
                                    "max_chars_per_line": 60, "max_lines": 3,
                                    "highlight_color": None}  # fmt: skip
    assert (kit["logo_media_id"], kit["intro_media_id"], kit["outro_media_id"]) == (
        logo, intro, intro,
    )  # fmt: skip
    assert kit["default_aspect"] == "4:5"
    for image in (jpeg, webp):  # any image kind the renderer reads
        assert _create(stack, name="other", logo_media_id=image)["logo_media_id"] == image
    # The lowest bounds hold too.
    low = {"logo": {"scale": 0.05, "opacity": 0.01}, "caption_style": {"font_size": 0.01,
           "max_chars_per_line": 8, "max_lines": 1}}  # fmt: skip
    assert _create(stack, name="small", **low)["logo"]["scale"] == 0.05


def _refusals(stack: Stack, tmp_path: Path) -> list[tuple[dict[str, Any], str, list[str]]]:
    """(body, code, fields named) for every kind of bad brand kit."""
    http = stack.http
    video, long_video = _video(http, tmp_path, 1.0), _video(http, tmp_path, 12.0)
    image = _logo(http, tmp_path)
    audio = _upload(http, make_audio(tmp_path / "tone.m4a", seconds=1.0), "audio/mp4")
    tiny, huge = _logo(http, tmp_path, (16, 64)), _logo(http, tmp_path, (4100, 40))
    with _tenant_b(stack) as other:
        theirs = _logo(other, tmp_path)
    failed, fetching = new_id("med"), new_id("med")
    with stack.svc.db.write() as conn:
        media_rows.insert_media(
            conn, id=failed, tenant_id=stack.tenant_id, filename="x.png", status="failed",
            error_code="fetch_failed", error_message="the server answered 500",
            created_at=stack.svc.clock.now(),
        )  # fmt: skip
        media_rows.insert_media(
            conn, id=fetching, tenant_id=stack.tenant_id, filename="y.mp4", status="fetching",
            source_url="https://example.com/y.mp4", created_at=stack.svc.clock.now(),
        )  # fmt: skip
    name = {"name": "bad"}
    schema = "validation_error"
    return [
        ({}, schema, ["name"]),
        ({"name": ""}, schema, ["name"]),
        ({"name": "x" * 201}, schema, ["name"]),
        ({**name, "font": "Inter"}, schema, ["font"]),
        ({**name, "logo": {"size": 1}}, schema, ["logo.size"]),
        ({**name, "colors": {"background": "#12345"}}, schema, ["colors.background"]),
        ({**name, "colors": {"primary": "red"}}, schema, ["colors.primary"]),
        ({**name, "colors": {"accent": "#ggg"}}, schema, ["colors.accent"]),
        ({**name, "colors": {"accent": 255}}, schema, ["colors.accent"]),
        ({**name, "caption_style": {"highlight_color": "#ff00"}}, schema,
         ["caption_style.highlight_color"]),
        ({**name, "logo": {"scale": 0.6}}, schema, ["logo.scale"]),
        ({**name, "logo": {"scale": 0.01}}, schema, ["logo.scale"]),
        ({**name, "logo": {"opacity": 0}}, schema, ["logo.opacity"]),
        ({**name, "logo": {"opacity": 1.5}}, schema, ["logo.opacity"]),
        ({**name, "logo": {"margin": 0.3}}, schema, ["logo.margin"]),
        ({**name, "logo": {"position": "center"}}, schema, ["logo.position"]),
        ({**name, "caption_style": {"font_size": 0.3}}, schema, ["caption_style.font_size"]),
        ({**name, "caption_style": {"outline_width": -0.1}}, schema,
         ["caption_style.outline_width"]),
        ({**name, "caption_style": {"max_chars_per_line": 7}}, schema,
         ["caption_style.max_chars_per_line"]),
        ({**name, "caption_style": {"max_chars_per_line": 61}}, schema,
         ["caption_style.max_chars_per_line"]),
        ({**name, "caption_style": {"max_lines": 0}}, schema, ["caption_style.max_lines"]),
        ({**name, "caption_style": {"max_lines": 4}}, schema, ["caption_style.max_lines"]),
        ({**name, "caption_style": {"position": "left"}}, schema, ["caption_style.position"]),
        ({**name, "default_aspect": "3:2"}, schema, ["default_aspect"]),
        ({**name, "logo_media_id": "med_nope"}, "media_not_found", ["logo_media_id"]),
        ({**name, "logo_media_id": theirs}, "media_not_found", ["logo_media_id"]),
        ({**name, "intro_media_id": failed}, "media_not_ready", ["intro_media_id"]),
        ({**name, "outro_media_id": fetching}, "media_not_ready", ["outro_media_id"]),
        ({**name, "logo_media_id": video}, "wrong_media_kind", ["logo_media_id"]),
        ({**name, "intro_media_id": image}, "wrong_media_kind", ["intro_media_id"]),
        ({**name, "outro_media_id": audio}, "wrong_media_kind", ["outro_media_id"]),
        ({**name, "intro_media_id": long_video}, "bumper_too_long", ["intro_media_id"]),
        ({**name, "logo_media_id": tiny}, "logo_too_small", ["logo_media_id"]),
        ({**name, "logo_media_id": huge}, "logo_too_large", ["logo_media_id"]),
        # Several at once: every field to fix is listed, the first one's code leads.
        ({**name, "logo_media_id": video, "intro_media_id": "med_nope",
          "outro_media_id": long_video}, "wrong_media_kind",
         ["logo_media_id", "intro_media_id", "outro_media_id"]),
    ]  # fmt: skip


def test_each_bad_value_is_a_422_naming_the_field_and_stores_nothing(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Schema errors (unknown fields, bad hex, out-of-range numbers, unknown choices) and
    media errors (missing, another tenant's, failed, wrong kind, too long, too small or
    large) each answer 422 problem+json whose `errors` name exactly the fields to fix."""
    stack = make_stack(workers=0)
    for body, code, fields in _refusals(stack, tmp_path):
        answer = stack.http.post("/v1/brand-kits", json=body)
        problem = expect_problem(answer, 422, code)
        assert [e["field"] for e in problem["errors"]] == fields, (body, problem)
        assert all(e["message"] for e in problem["errors"]), problem
        if code == "validation_error":
            continue
        for field in fields:
            assert field in problem["detail"], problem  # the message says which field
    assert stack.http.get("/v1/brand-kits").json()["data"] == []


def test_a_patch_merges_key_by_key_and_nulls_restore_defaults(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """JSON Merge Patch: a nested key changes alone; a null removes a media item or puts
    a setting (or a whole group) back to its default; a null highlight turns it off; bad
    patches change nothing."""
    stack = make_stack(workers=0)
    logo, intro = _logo(stack.http, tmp_path), _video(stack.http, tmp_path, 1.0)
    kit = _create(
        stack, name="Acme", logo_media_id=logo, intro_media_id=intro,
        logo={"position": "bottom-left", "scale": 0.3}, colors={"accent": "#00f"},
        caption_style={"color": "#eee", "max_lines": 3},
    )  # fmt: skip
    url = f"/v1/brand-kits/{kit['id']}"

    def patch(body: dict[str, Any]) -> dict[str, Any]:
        answer = stack.http.patch(url, json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    scaled = patch({"logo": {"scale": 0.25}})
    assert scaled["logo"] == {**DEFAULTS["logo"], "position": "bottom-left", "scale": 0.25}
    assert _fields(scaled) | {"logo": kit["logo"]} == _fields(kit)
    assert datetime.fromisoformat(scaled["updated_at"]) > datetime.fromisoformat(kit["updated_at"])
    assert scaled["created_at"] == kit["created_at"]
    renamed = patch({"name": "Acme 2", "colors": {"accent": None, "background": "#FFF"}})
    assert renamed["name"] == "Acme 2"
    assert renamed["colors"] == {**DEFAULTS["colors"], "background": "#ffffff"}
    off = patch({"caption_style": {"highlight_color": None, "max_lines": None}})
    assert off["caption_style"] == {**DEFAULTS["caption_style"], "color": "#eeeeee",
                                    "highlight_color": None}  # fmt: skip
    back = patch({"caption_style": {"highlight_color": "#0f0"}})
    assert back["caption_style"]["highlight_color"] == "#00ff00"
    assert back["caption_style"]["color"] == "#eeeeee"
    reset = patch({"logo": None, "logo_media_id": None, "default_aspect": "16:9"})
    assert reset["logo"] == DEFAULTS["logo"] and reset["logo_media_id"] is None
    assert reset["intro_media_id"] == intro and reset["default_aspect"] == "16:9"
    assert patch({"default_aspect": None})["default_aspect"] == "9:16"
    assert patch({"outro_media_id": intro})["outro_media_id"] == intro
    before = stack.http.get(url).json()
    for body, code, field in (
        ({"name": None}, "name_required", "name"),
        ({}, "empty_edit", None),
        ({"logo": {"scale": 2}}, "validation_error", "logo.scale"),
        ({"colors": {"primary": "#12"}}, "validation_error", "colors.primary"),
        ({"tagline": "x"}, "validation_error", "tagline"),
        ({"name": "", "logo": {}}, "validation_error", "name"),
        ({"logo_media_id": intro}, "wrong_media_kind", "logo_media_id"),
        ({"name": "kept?", "intro_media_id": "med_nope"}, "media_not_found", "intro_media_id"),
    ):
        problem = expect_problem(stack.http.patch(url, json=body), 422, code)
        if field is not None:
            assert field in [e["field"] for e in problem["errors"]], problem
    assert stack.http.get(url).json() == before
    expect_problem(stack.http.patch("/v1/brand-kits/bk_nope", json={"name": "x"}), 404,
                   "brand_kit_not_found")  # fmt: skip


def test_media_a_kit_uses_cannot_be_deleted_until_no_kit_uses_it(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """DELETE /v1/media answers 409 media_in_use naming the kit while it uses the item as
    logo, intro or outro; once patched away or the kit deleted, the item goes."""
    stack = make_stack(workers=0)
    logo, intro = _logo(stack.http, tmp_path), _video(stack.http, tmp_path, 1.0)
    outro = _video(stack.http, tmp_path, 2.0)
    kit = _create(stack, name="Acme", logo_media_id=logo, intro_media_id=intro,
                  outro_media_id=outro)  # fmt: skip
    for media_id in (logo, intro, outro):
        problem = expect_problem(stack.http.delete(f"/v1/media/{media_id}"), 409, "media_in_use")
        assert kit["id"] in problem["detail"], problem
    assert stack.http.get(f"/v1/media/{logo}").status_code == 200
    stack.http.patch(f"/v1/brand-kits/{kit['id']}", json={"logo_media_id": None})
    assert stack.http.delete(f"/v1/media/{logo}").status_code == 204
    expect_problem(stack.http.delete(f"/v1/media/{intro}"), 409, "media_in_use")
    assert stack.http.delete(f"/v1/brand-kits/{kit['id']}").status_code == 204
    assert stack.http.delete(f"/v1/media/{intro}").status_code == 204
    assert stack.http.delete(f"/v1/media/{outro}").status_code == 204
    # A deleted item cannot be given to a kit either.
    problem = expect_problem(
        stack.http.post("/v1/brand-kits", json={"name": "late", "logo_media_id": logo}),
        422,
        "media_not_found",
    )
    assert problem["errors"][0]["field"] == "logo_media_id"


def test_delete_removes_the_kit_and_refuses_while_a_project_uses_it(
    make_stack: Callable[..., Stack],
) -> None:
    """A kit a project names answers 409 brand_kit_in_use; an unused one goes (204), then
    is 404 everywhere."""
    stack = make_stack(workers=0)
    used, spare = _create(stack, name="used"), _create(stack, name="spare")
    project_id, now = new_id("prj"), stack.svc.clock.now()
    with stack.svc.db.write() as conn:
        conn.execute(projects.insert().values(
            id=project_id, tenant_id=stack.tenant_id, name="launch", brand_kit_id=used["id"],
            created_at=now, updated_at=now,
        ))  # fmt: skip
    problem = expect_problem(
        stack.http.delete(f"/v1/brand-kits/{used['id']}"), 409, "brand_kit_in_use"
    )
    assert project_id in problem["detail"]
    assert stack.http.delete(f"/v1/brand-kits/{spare['id']}").status_code == 204
    for answer in (
        stack.http.get(f"/v1/brand-kits/{spare['id']}"),
        stack.http.delete(f"/v1/brand-kits/{spare['id']}"),
        stack.http.patch(f"/v1/brand-kits/{spare['id']}", json={"name": "back"}),
    ):
        expect_problem(answer, 404, "brand_kit_not_found")
    assert [k["id"] for k in stack.http.get("/v1/brand-kits").json()["data"]] == [used["id"]]


def test_another_tenant_neither_sees_nor_changes_a_kit(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Tenant B's owner key gets 404 for A's kit on every route, an empty list, and cannot
    give A's media to its own kit; A's kit is unchanged."""
    stack = make_stack(workers=0)
    logo = _logo(stack.http, tmp_path)
    kit = _create(stack, name="A's", logo_media_id=logo)
    url = f"/v1/brand-kits/{kit['id']}"
    with _tenant_b(stack) as other:
        expect_problem(other.get(url), 404, "brand_kit_not_found")
        expect_problem(other.patch(url, json={"name": "taken"}), 404, "brand_kit_not_found")
        expect_problem(other.delete(url), 404, "brand_kit_not_found")
        assert other.get("/v1/brand-kits").json()["data"] == []
        problem = expect_problem(
            other.post("/v1/brand-kits", json={"name": "B's", "logo_media_id": logo}),
            422,
            "media_not_found",
        )
        assert problem["errors"][0]["field"] == "logo_media_id"
        # B's own kit is B's alone.
        own = other.post("/v1/brand-kits", json={"name": "B's"})
        assert own.status_code == 201, own.text
    assert stack.http.get(url).json() == kit
    assert [k["id"] for k in stack.http.get("/v1/brand-kits").json()["data"]] == [kit["id"]]
    expect_problem(stack.http.get(f"/v1/brand-kits/{own.json()['id']}"), 404)


def test_the_list_pages_newest_first_with_cursors(make_stack: Callable[..., Stack]) -> None:
    """Five kits in pages of two: each once, newest first, `next_cursor` and the Link
    header lead on; a forged cursor and an out-of-range limit are 422."""
    stack = make_stack(workers=0)
    made = [_create(stack, name=f"kit {n}")["id"] for n in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        answer = stack.http.get("/v1/brand-kits", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [k["id"] for k in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None and "link" not in answer.headers
            break
        assert 'rel="next"' in answer.headers["link"]
        params["cursor"] = page["next_cursor"]
    assert seen == made[::-1]
    expect_problem(stack.http.get("/v1/brand-kits", params={"cursor": "forged"}), 422,
                   "invalid_cursor")  # fmt: skip
    expect_problem(stack.http.get("/v1/brand-kits", params={"limit": 101}), 422)


def test_create_is_idempotent_and_scopes_are_enforced(make_stack: Callable[..., Stack]) -> None:
    """The same Idempotency-Key and body replay the first kit; a viewer key (posts:read)
    reads kits but cannot change them (403)."""
    stack = make_stack(workers=0)
    headers = {"Idempotency-Key": "kit-1"}
    first = stack.http.post("/v1/brand-kits", json={"name": "once"}, headers=headers)
    again = stack.http.post("/v1/brand-kits", json={"name": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = stack.http.post("/v1/brand-kits", json={"name": "twice"}, headers=headers)
    expect_problem(other, 422, "idempotency_key_reused")
    assert len(stack.http.get("/v1/brand-kits").json()["data"]) == 1
    _, key = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="viewer", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    with httpx.Client(base_url=stack.api_url, headers={"X-API-Key": key}, timeout=30) as viewer:
        kit_id = first.json()["id"]
        assert viewer.get(f"/v1/brand-kits/{kit_id}").status_code == 200
        assert viewer.get("/v1/brand-kits").status_code == 200
        expect_problem(viewer.post("/v1/brand-kits", json={"name": "no"}), 403)
        expect_problem(viewer.patch(f"/v1/brand-kits/{kit_id}", json={"name": "no"}), 403)
        expect_problem(viewer.delete(f"/v1/brand-kits/{kit_id}"), 403)
