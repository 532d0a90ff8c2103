"""`crosspost brand-kits create|list|show|rm`: the brand kits clip renders are dressed with,
through the API (which checks every value and says what to change)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, Col, ExitCode, api, examples, out, ts

app = App(help="Brand kits: logo, colours, caption look, intro and outro (through the API).")

KitId = Annotated[str, typer.Argument(metavar="BRAND_KIT_ID")]
_COLS = [Col("id", keep=True), Col("name"), Col("logo", keep=True), Col("intro"), Col("outro"),
         Col("aspect"), Col("updated")]  # fmt: skip


def _opt(help_text: str, metavar: str) -> Any:
    return typer.Option(help=help_text, metavar=metavar)


@app.command(
    "create",
    epilog=examples(
        "crosspost brand-kits create --name Acme --logo med_01J… --logo-position bottom-right",
        "crosspost brand-kits create --name Dark --background '#111' --caption-color '#ff0' -q",
        "crosspost brand-kits create --name Plain --no-highlight --aspect 1:1 --json",
    ),
)
def brand_kits_create(
    name: Annotated[str, _opt("The kit's name (1 to 200 characters).", "TEXT")],
    logo: Annotated[
        str | None, _opt("A media id: an image of yours (PNG, JPEG, WebP…).", "MEDIA_ID")
    ] = None,
    intro: Annotated[str | None, _opt("A media id: a video of at most 10 s.", "MEDIA_ID")] = None,
    outro: Annotated[str | None, _opt("A media id: a video of at most 10 s.", "MEDIA_ID")] = None,
    logo_position: Annotated[
        str | None, _opt("top-left, top-right (default), bottom-left or bottom-right.", "CORNER")
    ] = None,
    logo_scale: Annotated[
        float | None,
        _opt("The logo's width, 0.05 to 0.5 of the frame's (default 0.18).", "FRACTION"),
    ] = None,
    logo_opacity: Annotated[float | None, _opt("Above 0 to 1 (default 0.85).", "FRACTION")] = None,
    logo_margin: Annotated[
        float | None, _opt("0 to 0.2 of the shorter side (default 0.04).", "FRACTION")
    ] = None,
    background: Annotated[
        str | None, _opt("Bars colour, #rrggbb or #rgb (default #000000).", "COLOR")
    ] = None,
    primary: Annotated[str | None, _opt("Primary brand colour (default #ffffff).", "COLOR")] = None,
    accent: Annotated[str | None, _opt("Accent brand colour (default #ffd400).", "COLOR")] = None,
    caption_font_size: Annotated[
        float | None, _opt("0.01 to 0.25 of the shorter side (default 0.065).", "FRACTION")
    ] = None,
    caption_color: Annotated[
        str | None, _opt("Caption text colour (default #ffffff).", "COLOR")
    ] = None,
    caption_outline_color: Annotated[
        str | None, _opt("Outline colour (default #000000).", "COLOR")
    ] = None,
    caption_outline_width: Annotated[
        float | None, _opt("0 to 0.5 of the font size (default 0.1).", "FRACTION")
    ] = None,
    caption_position: Annotated[
        str | None, _opt("bottom (default), middle or top.", "POSITION")
    ] = None,
    caption_max_chars: Annotated[
        int | None, _opt("Characters per line, 8 to 60 (default 24).", "N")
    ] = None,
    caption_max_lines: Annotated[
        int | None, _opt("Lines shown at once, 1 to 3 (default 2).", "N")
    ] = None,
    highlight: Annotated[
        str | None, _opt("Colour of the word being said (default #ffd400).", "COLOR")
    ] = None,
    no_highlight: Annotated[
        bool, typer.Option("--no-highlight", help="Never highlight the word being said.")
    ] = False,
    aspect: Annotated[str | None, _opt("9:16 (default), 1:1, 16:9 or 4:5.", "ASPECT")] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Create a brand kit; prints its id. Settings left out take their defaults."""
    if highlight is not None and no_highlight:
        out().error("--highlight and --no-highlight exclude each other")
        raise typer.Exit(ExitCode.USAGE)
    body: dict[str, Any] = _given(
        name=name, logo_media_id=logo, intro_media_id=intro, outro_media_id=outro,
        default_aspect=aspect,
    )  # fmt: skip
    settings = {
        "logo": _given(position=logo_position, scale=logo_scale, opacity=logo_opacity,
                       margin=logo_margin),
        "colors": _given(background=background, primary=primary, accent=accent),
        "caption_style": _given(
            font_size=caption_font_size, color=caption_color,
            outline_color=caption_outline_color, outline_width=caption_outline_width,
            position=caption_position, max_chars_per_line=caption_max_chars,
            max_lines=caption_max_lines, highlight_color=highlight,
        ),
    }  # fmt: skip
    if no_highlight:
        settings["caption_style"]["highlight_color"] = None
    body.update({group: values for group, values in settings.items() if values})
    with api(api_url, key) as client:
        made = client.request("POST", "/v1/brand-kits", json=body)
    out().note(f"created brand kit {made['id']} ({made['name']})")
    out().result(made, ids=[made["id"]], human=lambda: out().line(made["id"]))


@app.command(
    "list", epilog=examples("crosspost brand-kits list", "crosspost brand-kits list --json")
)
def brand_kits_list(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", metavar="N")] = 50,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List brand kits, newest first, with the media each uses."""
    with api(api_url, key) as client:
        page = client.request("GET", "/v1/brand-kits", params={"limit": limit})
    kits = page["data"]
    rows = [
        [k["id"], k["name"], k["logo_media_id"] or "-", k["intro_media_id"] or "-",
         k["outro_media_id"] or "-", k["default_aspect"], ts(k["updated_at"])]
        for k in kits
    ]  # fmt: skip
    more = " (more: raise --limit)" if page.get("has_more") else ""
    out().result(
        kits,
        ids=[k["id"] for k in kits],
        human=lambda: out().table(_COLS, rows, title=f"{len(kits)} brand kit(s){more}"),
    )


@app.command("show", epilog=examples("crosspost brand-kits show bk_01J…"))
def brand_kits_show(kit_id: KitId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show one brand kit with every setting."""
    with api(api_url, key) as client:
        kit = client.request("GET", f"/v1/brand-kits/{kit_id}")

    def human() -> None:
        for field in ("id", "name", "logo_media_id", "intro_media_id", "outro_media_id",
                      "default_aspect"):  # fmt: skip
            out().line(f"{field}: {kit[field] if kit[field] is not None else '-'}")
        for group in ("logo", "colors", "caption_style"):
            settings = ", ".join(f"{k}={'-' if v is None else v}" for k, v in kit[group].items())
            out().line(f"{group}: {settings}")
        out().line(f"updated: {ts(kit['updated_at'])}")

    out().result(kit, ids=[kit["id"]], human=human)


@app.command("rm", epilog=examples("crosspost brand-kits rm bk_01J…"))
def brand_kits_rm(
    kit_ids: Annotated[list[str], typer.Argument(metavar="BRAND_KIT_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Delete brand kits (refused while a project uses one); their media stay."""
    with api(api_url, key) as client:
        for kit_id in kit_ids:
            client.request("DELETE", f"/v1/brand-kits/{kit_id}")
            out().note(f"deleted {kit_id}")
    out().result({"deleted": kit_ids}, ids=kit_ids, human=lambda: None)


def _given(**values: Any) -> dict[str, Any]:
    """The options that were given (None: left to the server's default)."""
    return {name: value for name, value in values.items() if value is not None}
