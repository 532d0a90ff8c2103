"""`crosspost releases …` and `crosspost distribute`: music releases made from local masters
(uploaded first) or media ids, then sent out to stores and followed until each store answers."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    ExitCode,
    api,
    api_key,
    did_you_mean,
    examples,
    exit_code_for,
    is_test_key,
    out,
    plain,
    sandboxed,
    ts,
)
from crosspost.domain.music import ArtistRole, Channel, ReleaseType

app = App(help="Music releases: create from masters, show, distribute to stores, take down.")
top = App()

ReleaseId = Annotated[str, typer.Argument(metavar="RELEASE_ID")]
DistributionId = Annotated[str, typer.Argument(metavar="DISTRIBUTION_ID")]
Wait = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Follow it until every store has answered.")
]
Timeout = Annotated[
    float, typer.Option(help="Seconds to follow it before giving up.", metavar="SECONDS")
]

_ENDED = ("live", "failed", "taken_down")
_TYPES = {".wav": "audio/wav", ".wave": "audio/wav", ".flac": "audio/flac",
          ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}  # fmt: skip
# The API's fields and the flags that set them; a listed field is the n-th of its flag.
_FLAGS = {"title": "TITLE", "type": "--type", "artists": "--artist", "label": "--label",
          "upc": "--upc", "genre": "--genre", "sub_genre": "--sub-genre",
          "language": "--language", "p_line": "--p-line", "c_line": "--c-line",
          "digital_release_date": "--release-date", "territories": "--territory",
          "artwork_media_id": "--artwork", "tracks": "--track", "release_date": "--release-date",
          "channels": "--to"}  # fmt: skip
_FIELD = re.compile(r"(\w+)(?:\[(\d+)\]|\.(\d+))?")
_LIST_COLS = [Col("id", keep=True), Col("type"), Col("title"), Col("artists"), Col("tracks"),
              Col("upc", keep=True), Col("created")]  # fmt: skip
_TRACK_COLS = [Col("#"), Col("title"), Col("isrc", keep=True), Col("length"), Col("master"),
               Col("explicit")]  # fmt: skip
_STORE_COLS = [Col("store"), Col("status"), Col("url", keep=True), Col("reason")]


def _opt(help_text: str, metavar: str, *names: str) -> Any:
    return typer.Option(*names, help=help_text, metavar=metavar)


def _usage(message: str) -> typer.Exit:
    out().error(message)
    return typer.Exit(ExitCode.USAGE)


def _artist(value: str) -> dict[str, str]:
    """`Name` (main) or `Name:featured` / `Name:remixer` / `Name:main`."""
    name, sep, role = value.rpartition(":")
    if sep and name.strip() and role.strip().lower() in get_args(ArtistRole):
        return {"name": name.strip(), "role": role.strip().lower()}
    return {"name": value.strip(), "role": "main"}


def _rights(value: str, flag: str) -> dict[str, Any]:
    """`2026 Owner` (a leading ℗ or © is dropped) as a rights line."""
    year, _, owner = value.strip().lstrip("℗©").strip().partition(" ")
    if not year.isdigit() or not owner.strip():
        raise _usage(f'{flag} {value!r}: give the year, then the owner: "2026 Example Records"')
    return {"year": int(year), "owner": owner.strip()}


def _track(value: str) -> tuple[str, dict[str, Any]]:
    """`FILE_OR_MEDIA_ID|TITLE|ISRC[|explicit]` as (its source, the track without media)."""
    parts = [part.strip() for part in value.split("|")]
    explicit = len(parts) == 4 and parts[3].lower() == "explicit"
    if len(parts) != 3 + explicit or not all(parts):
        raise _usage(f'--track {value!r}: give "FILE_OR_MEDIA_ID|TITLE|ISRC", '
                     'with "|explicit" last for an explicit track')  # fmt: skip
    return parts[0], {"title": parts[1], "isrc": parts[2], "explicit": explicit}


def _local(value: str, flag: str, kind: str) -> Path | None:
    """The file `value` names (to upload), or None for a media id; exit 2 when it is
    neither, or a file of another kind than `kind` (audio/ or image/)."""
    path = Path(value).expanduser()
    if path.is_file():
        if not _TYPES.get(path.suffix.lower(), "").startswith(kind):
            wanted = "a WAV or FLAC master" if kind == "audio/" else "a JPEG or PNG image"
            raise _usage(f"{flag} {value}: give {wanted} (by its extension)")
        return path.resolve()
    if value.startswith("med_"):
        return None
    raise _usage(f"{flag} {value}: no such file, nor a media id (med_…)")


def _uploaded(client: Any, paths: list[Path]) -> dict[Path, str]:
    """Upload each file once as a media item; path → media id."""
    ids: dict[Path, str] = {}
    for path in dict.fromkeys(paths):
        out().note(f"uploading {path.name} ({path.stat().st_size} bytes)")
        media = plain(client.media.upload(path, content_type=_TYPES[path.suffix.lower()]))
        ids[path] = str(media["id"])
        out().note(f"{path.name}: {ids[path]}")
    return ids


def _flag(field: str) -> str:
    """The flag that set an API field: `tracks[1].isrc` → `--track #2`, `upc` → `--upc`."""
    match = _FIELD.match(field)
    flag = _FLAGS.get(match[1]) if match else None
    if match is None or flag is None:
        return field
    index = match[2] or match[3]
    return f"{flag} #{int(index) + 1}" if index is not None else flag


def _refused(err: Any) -> typer.Exit:
    """A refusal said on stderr, each problem with its field (and the flag that set it)."""
    problems = [e for e in err.problem.get("errors") or [] if isinstance(e, dict)]
    if not problems:
        out().error(str(err))
    else:
        title = err.problem.get("title") or "refused"
        _say_problems(f"{err.status} {err.code}: {title}", problems)
    return typer.Exit(exit_code_for(err))


def _say_problems(head: str, problems: list[dict[str, Any]]) -> None:
    out().error(f"{head}; {len(problems)} problem(s):")
    for problem in problems:
        field = str(problem.get("field") or "body")
        out().error(f"  {field} ({_flag(field)}): {problem.get('message')}")


def _check_first(body: dict[str, Any], uploads: int) -> None:
    """Refuse (exit 1) what the API's own model would, before a single upload."""
    from pydantic import ValidationError  # noqa: PLC0415 - keep `--help` fast

    from crosspost.domain.music import ReleaseCreate  # noqa: PLC0415

    try:
        ReleaseCreate.model_validate(body)
    except ValidationError as err:
        problems = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                    for e in err.errors()]  # fmt: skip
        _say_problems("invalid release", problems)
        if uploads:
            out().error("nothing was uploaded")
        raise typer.Exit(ExitCode.ERROR) from None


def call_or_explain(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    """One request; a refusal is said with its fields (see `_refused`) and ends the command."""
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415 - keep `--help` fast

    try:
        return client.request(method, path, **kwargs)
    except ApiError as err:
        raise _refused(err) from None


@app.command(
    "create",
    epilog=examples(
        "crosspost releases create 'First Light' --type single --artist 'The Examples' "
        "--artist 'Guest:featured' --label 'Example Records' --upc 036000291452 "
        "--genre Electronic --language en --p-line '2026 Example Records' "
        "--c-line '2026 Example Records' --artwork cover.jpg "
        "--track 'one.wav|First Light|USS1Z2600001' --track 'two.flac|Dusk|USS1Z2600002|explicit'",
        "crosspost releases create 'Dusk EP' --type ep … --track 'med_01J…|Dusk|USS1Z2600003' "
        "--territory US --territory CA --release-date 2026-09-01 --json",
    ),
)
def releases_create(
    title: Annotated[str, typer.Argument(metavar="TITLE", help="The release's title.")],
    release_type: Annotated[ReleaseType, typer.Option("--type", help="single, ep or album.")],
    artists: Annotated[
        list[str],
        _opt(
            'An artist, in order (repeat); "Name:featured" or "Name:remixer" for one not main.',
            "NAME",
            "--artist",
        ),
    ],
    label: Annotated[str, _opt("The label.", "TEXT")],
    upc: Annotated[str, _opt("UPC (12 digits) or EAN (13).", "CODE")],
    genre: Annotated[str, _opt("The main genre.", "TEXT")],
    language: Annotated[str, _opt("Metadata language (ISO 639-1).", "CODE")],
    p_line: Annotated[str, _opt('℗: "YEAR Owner" of the recording.', "LINE")],
    c_line: Annotated[str, _opt('©: "YEAR Owner" of the artwork.', "LINE")],
    tracks: Annotated[
        list[str],
        _opt(
            '"FILE_OR_MEDIA_ID|TITLE|ISRC", in order (repeat); '
            '"|explicit" last for an explicit track. A file (WAV '
            "or FLAC) is uploaded first.",
            "SPEC",
            "--track",
        ),
    ],
    sub_genre: Annotated[str | None, _opt("A sub-genre.", "TEXT")] = None,
    territories: Annotated[
        list[str] | None,
        _opt("ISO 3166-1 alpha-2 (repeat); default Worldwide.", "CODE", "--territory"),
    ] = None,
    release_date: Annotated[date | None, _opt("When it goes live in stores.", "YYYY-MM-DD")] = None,
    artwork: Annotated[
        str | None,
        _opt(
            "Cover art: a JPEG or PNG file (uploaded first) or a "
            "media id; square, 3000 px or more.",
            "FILE_OR_MEDIA_ID",
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Create a release (a draft until distributed): local files are uploaded as media
    first; prints the release's id, or each problem with its field."""
    parsed = [_track(spec) for spec in tracks]
    sources = [_local(source, "--track", "audio/") for source, _ in parsed]
    art = _local(artwork, "--artwork", "image/") if artwork else None
    body: dict[str, Any] = {
        "type": release_type, "title": title, "artists": [_artist(a) for a in artists],
        "label": label, "upc": upc, "genre": genre, "sub_genre": sub_genre,
        "language": language, "p_line": _rights(p_line, "--p-line"),
        "c_line": _rights(c_line, "--c-line"),
        "digital_release_date": release_date.isoformat() if release_date else None,
    }  # fmt: skip
    if territories:
        body["territories"] = territories
    local = [p for p in [*sources, art] if p is not None]

    def with_media(ids: dict[Path, str]) -> dict[str, Any]:
        tracks = [{"media_id": ids[path] if path else source, **track}
                  for (source, track), path in zip(parsed, sources, strict=True)]  # fmt: skip
        cover = {"artwork_media_id": ids[art] if art else artwork} if artwork else {}
        return {**body, **cover, "tracks": tracks}

    # A file stands for the media id its upload will have while the body is checked.
    _check_first(with_media(dict.fromkeys(local, "med_upload")), len(local))
    with api(api_url, key) as client:
        ids = _uploaded(client, local)
        try:
            made = call_or_explain(client, "POST", "/v1/releases", json=with_media(ids))
        except typer.Exit:
            if ids:
                kept = ", ".join(f"{p.name} = {i}" for p, i in ids.items())
                out().error(f"the uploads stay in the media library; reuse them: {kept}")
            raise
    out().note(f"created release {made['id']} ({made['title']}, {len(made['tracks'])} track(s))")
    out().result(made, ids=[made["id"]], human=lambda: out().line(made["id"]))


@app.command("list", epilog=examples("crosspost releases list", "crosspost releases list -q"))
def releases_list(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", metavar="N")] = 50,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List releases, newest first."""
    with api(api_url, key) as client:
        page = client.request("GET", "/v1/releases", params={"limit": max(1, min(limit, 100))})
    found = page["data"]
    rows = [[r["id"], r["type"], r["title"], _artists(r["artists"]), str(len(r["tracks"])),
             r["upc"], ts(r["created_at"])] for r in found]  # fmt: skip
    more = " (more: raise --limit)" if page.get("has_more") else ""
    out().result(
        found,
        ids=[r["id"] for r in found],
        human=lambda: out().table(_LIST_COLS, rows, title=f"{len(found)} release(s){more}"),
    )


@app.command("show", epilog=examples("crosspost releases show rel_01J…"))
def releases_show(release_id: ReleaseId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show a release: its metadata, tracks (ISRC, length, master) and where it was sent,
    with each store's status and URL."""
    with api(api_url, key) as client:
        release = client.request("GET", f"/v1/releases/{release_id}")
        sent = client.request("GET", f"/v1/releases/{release_id}/distributions")["data"]
    sandbox = is_test_key(api_key(key))

    def human() -> None:
        shown = {"id": release["id"], "title": release["title"], "type": release["type"],
                 "artists": _artists(release["artists"]), "label": release["label"],
                 "upc": release["upc"], "genre": release["genre"],
                 "sub-genre": release["sub_genre"], "language": release["language"],
                 "p-line": release["p_line"], "c-line": release["c_line"],
                 "release date": release["digital_release_date"],
                 "territories": ", ".join(release["territories"]),
                 "artwork": release["artwork_media_id"],
                 "parental warning": release["parental_warning"],
                 "length": _length(release["duration_seconds"])}  # fmt: skip
        for name, value in shown.items():
            out().line(f"{name}: {value if value is not None else '-'}")
        out().table(_TRACK_COLS, [_track_row(t) for t in release["tracks"]], title="tracks:")
        if not sent:
            out().line(f"not distributed: `crosspost distribute {release['id']} --to ddex`")
        _say(sent, sandbox)

    out().result({**release, "distributions": sent}, ids=[release["id"]], human=human)


@app.command("delete", epilog=examples("crosspost releases delete rel_01J…"))
def releases_delete(
    release_ids: Annotated[list[str], typer.Argument(metavar="RELEASE_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Delete releases (refused while one is out in stores: take it down first); their
    masters and artwork stay in the media library."""
    with api(api_url, key) as client:
        for release_id in release_ids:
            client.request("DELETE", f"/v1/releases/{release_id}")
            out().note(f"deleted {release_id}")
    out().result({"deleted": release_ids}, ids=release_ids, human=lambda: None)


@top.command(
    "distribute",
    epilog=examples(
        "crosspost distribute rel_01J… --to ddex",
        "crosspost distribute rel_01J… --to ddex --release-date 2026-09-01 --no-wait -q",
    ),
)
def distribute(
    release_id: ReleaseId,
    to: Annotated[
        list[str],
        typer.Option(help="ddex: the stores, through the distributor (repeat).", metavar="CHANNEL"),
    ],
    release_date: Annotated[
        date | None,
        typer.Option(
            help="When it goes live (default: the release's, else today).", metavar="YYYY-MM-DD"
        ),
    ] = None,
    wait: Wait = True,
    timeout: Timeout = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Send a release out to stores and, unless --no-wait, follow each distribution until
    it ends: prints each store's status and URL; exit 10 when one failed, 13 on --timeout."""
    channels = get_args(Channel)
    for channel in to:
        if channel not in channels:
            raise _usage(f"--to {channel}: unknown channel" + did_you_mean(channel, channels))
    body: dict[str, Any] = {"channels": list(dict.fromkeys(to))}
    if release_date:
        body["release_date"] = release_date.isoformat()
    path = f"/v1/releases/{release_id}/distributions"
    with api(api_url, key) as client:
        started = call_or_explain(client, "POST", path, json=body)["data"]
        found = _followed(client, started, timeout) if wait else started
    _report(found, waited=wait, timeout=timeout, sandbox=is_test_key(api_key(key)))


@app.command(
    "retry",
    epilog=examples("crosspost releases retry dst_01J…", "crosspost releases retry dst_01J… -q"),
)
def releases_retry(
    distribution_id: DistributionId,
    wait: Wait = True,
    timeout: Timeout = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Deliver a failed distribution again (a new batch) and follow it like `distribute`."""
    _act(distribution_id, "retry", wait, timeout, api_url, key)


@app.command(
    "takedown",
    epilog=examples("crosspost releases takedown dst_01J…", "crosspost releases takedown "
                    "dst_01J… --no-wait --json"),
)  # fmt: skip
def releases_takedown(
    distribution_id: DistributionId,
    wait: Wait = True,
    timeout: Timeout = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Withdraw a release from every store of a distribution; it ends taken_down once every
    store has withdrawn it."""
    _act(distribution_id, "takedown", wait, timeout, api_url, key)


def _act(
    distribution_id: str, action: str, wait: bool, timeout: float, url: str | None, key: str | None
) -> None:
    with api(url, key) as client:
        started = call_or_explain(client, "POST", f"/v1/distributions/{distribution_id}/{action}")
        found = _followed(client, [started], timeout) if wait else [started]
    _report(found, waited=wait, timeout=timeout, sandbox=is_test_key(api_key(key)))


def _followed(client: Any, started: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Poll each distribution until it ends or `timeout` seconds pass, saying each change
    of status (backing off while nothing changes, as the SDK's `follow` does)."""
    from crosspost_sdk.ratelimit import Pacer  # noqa: PLC0415 - keep `--help` fast

    latest = {d["id"]: d for d in started}
    for d in started:
        out().note(f"distribution {d['id']} ({d['channel']}): {d['status']}")
    deadline = time.monotonic() + timeout
    pacer, changed = Pacer(), True
    while True:
        going = [i for i, d in latest.items() if d["status"] not in _ENDED]
        left = deadline - time.monotonic()
        if not going or left <= 0:
            return list(latest.values())
        time.sleep(min(left, pacer.next(changed, client.rate_limit)))
        changed = False
        for distribution_id in going:
            seen = client.request("GET", f"/v1/distributions/{distribution_id}")
            before = latest[distribution_id]
            if seen["status"] != before["status"]:
                out().note(f"distribution {distribution_id}: {before['status']} → {seen['status']}")
            changed |= seen != before
            latest[distribution_id] = seen


def _report(found: list[dict[str, Any]], *, waited: bool, timeout: float, sandbox: bool) -> None:
    """The distributions as the result; exit 10 when one failed, 13 when one still goes on."""
    out().result(found, ids=[d["id"] for d in found], human=lambda: _say(found, sandbox))
    if not waited:
        return
    failed = [d for d in found if d["status"] == "failed"]
    for d in failed:
        error = d.get("error") or {}
        out().error(f"distribution {d['id']} failed: {error.get('message') or 'no reason given'} "
                    f"({error.get('code') or 'failed'}); `crosspost releases retry {d['id']}` "
                    "sends it again")  # fmt: skip
    going = [d for d in found if d["status"] not in _ENDED]
    for d in going:
        out().error(f"distribution {d['id']} is still {d['status']} after {timeout:g} s; "
                    f"`crosspost releases show {d['release_id']}` says how it goes on")  # fmt: skip
    if failed:
        raise typer.Exit(ExitCode.FAILED)
    if going:
        raise typer.Exit(ExitCode.TIMEOUT)


def _say(found: list[dict[str, Any]], sandbox: bool) -> None:
    """Each distribution's status, then each store's status, URL and reason."""
    for d in found:
        action = " (takedown)" if d["action"] == "takedown" else ""
        out().line(f"distribution {d['id']} on {d['channel']}{action}: {d['status']}, release "
                   f"date {d['release_date']}, attempt {d['attempt']}")  # fmt: skip
        if d["stores"]:
            rows = [[s["store"], s["status"], sandboxed(s["url"], sandbox) or "-",
                     s["reason"] or "-"] for s in d["stores"]]  # fmt: skip
            out().table(_STORE_COLS, rows)


def _artists(credits: list[dict[str, Any]]) -> str:
    return ", ".join(
        a["name"] if a["role"] == "main" else f"{a['name']} ({a['role']})" for a in credits
    )


def _length(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _track_row(track: dict[str, Any]) -> list[str]:
    master = track["master"]
    depth = f"{master['bit_depth']}-bit/" if master["bit_depth"] else ""
    kind = f"{depth}{master['sample_rate'] / 1000:g} kHz {master['container'].upper()}"
    explicit = "yes" if track["explicit"] else "no"
    return [str(track["position"]), track["title"], track["isrc"],
            _length(master["duration_seconds"]), kind, explicit]  # fmt: skip
