"""The SoundCloud fake's sets: `POST /playlists`, `GET|PUT|DELETE /playlists/{urn}` and
`GET /me/playlists`, over the fake's own tracks and OAuth check.

Written from SoundCloud's OpenAPI spec (CreateUpdatePlaylistRequest, Playlist, Playlists):
a body is ``{"playlist": {...}}`` in JSON (or the same as ``playlist[...]`` multipart fields
on create), tracks are named ``{"urn": "soundcloud:tracks:<id>"}`` in play order, and a
``tracks`` list given to PUT replaces the whole list. A track that does not exist, or is
another user's private track, is 404, as reading it would be; a release (``set_type`` album,
or the older ``playlist_type`` album / "ep single") takes only its owner's tracks (422).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import AbortConnection, Account, drain, mount_base, unique_id
from crosspost.fakes.sniff import HEAD_BYTES, image_format
from crosspost.fakes.soundcloud_rules import (
    PlaylistInput,
    check_playlist,
    is_release,
    list_page,
    playlist_from_form,
    sc_error,
    sc_time,
    slug,
    user_json,
)

if TYPE_CHECKING:
    from crosspost.fakes.soundcloud import SoundCloudFake

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass
class Playlist:
    """One set (SoundCloud calls them playlists in the API): its fields and track ids in order."""

    id: int
    account: Account
    fields: dict[str, str]
    track_ids: list[int]
    permalink: str
    created_at: float
    last_modified: float
    secret_token: str = ""

    @property
    def urn(self) -> str:
        """`soundcloud:playlists:<id>`."""
        return f"soundcloud:playlists:{self.id}"

    def as_json(self, api: str, tracks: list[dict[str, Any]], *, show: bool) -> dict[str, Any]:
        """The Playlist object; `tracks` are the visible ones in order, listed when `show`."""
        f = self.fields
        public = f.get("sharing", "public") == "public"
        suffix = "" if public else f"/{self.secret_token}"
        handle = self.account.handle
        date = f.get("release_date", "")
        year, month, day = (int(p) for p in date.split("-")) if date else (None, None, None)
        return {
            "kind": "playlist",
            "id": self.id,
            "urn": self.urn,
            "uri": f"{api}/playlists/{self.urn}",
            "tracks_uri": f"{api}/playlists/{self.urn}/tracks",
            "title": f["title"],
            "description": f.get("description"),
            "created_at": sc_time(self.created_at),
            "last_modified": sc_time(self.last_modified),
            "sharing": f.get("sharing", "public"),
            "secret_uri": None
            if public
            else f"{api}/playlists/{self.urn}?secret_token={self.secret_token}",
            "permalink": self.permalink,
            "permalink_url": f"https://soundcloud.com/{handle}/sets/{self.permalink}{suffix}",
            "playlist_type": f.get("playlist_type") or ("album" if is_release(f) else ""),
            "type": f.get("set_type", ""),
            "tag_list": f.get("tag_list", ""),
            "tags": f.get("tag_list", ""),
            "genre": f.get("genre", ""),
            "label_name": f.get("label_name"),
            "label": None,
            "label_id": None,
            "ean": f.get("ean"),
            "license": f.get("license", "all-rights-reserved"),
            "purchase_title": f.get("purchase_title"),
            "purchase_url": f.get("purchase_url"),
            "release": f.get("release"),
            "release_year": year,
            "release_month": month,
            "release_day": day,
            "embeddable_by": "all",
            "streamable": True,
            "downloadable": True,
            "artwork_url": None,
            "likes_count": 0,
            "track_count": len(tracks),
            "duration": sum(int(t.get("duration") or 0) for t in tracks),
            # `show_tracks=false` leaves the list out: only `track_count` tells how many.
            "tracks": tracks if show else [],
            "user_id": int(self.account.external_id),
            "user_urn": f"soundcloud:users:{self.account.external_id}",
            "user": user_json(self.account, api),
        }


class SetRoutes:
    """The playlists of one SoundCloud fake; the fake mounts `routes()` and shows `state()`."""

    def __init__(self, fake: SoundCloudFake) -> None:
        self.fake = fake
        self.playlists: dict[int, Playlist] = {}

    def routes(self) -> list[BaseRoute]:
        """Paths of api.soundcloud.com."""
        return [
            Route("/playlists", self._create, methods=["POST"]),
            Route("/playlists/{ref}", self._get, methods=["GET"]),
            Route("/playlists/{ref}", self._update, methods=["PUT"]),
            Route("/playlists/{ref}", self._delete, methods=["DELETE"]),
            Route("/me/playlists", self._mine, methods=["GET"]),
        ]

    def clear(self) -> None:
        """Forget every playlist."""
        self.playlists.clear()

    def state(self) -> list[dict[str, Any]]:
        """Every playlist with its track ids in play order (deleted tracks left out)."""
        return [
            {
                "id": str(p.id),
                "urn": p.urn,
                "account_external_id": p.account.external_id,
                "handle": p.account.handle,
                "title": p.fields["title"],
                "sharing": p.fields.get("sharing", "public"),
                "tag_list": p.fields.get("tag_list", ""),
                "fields": dict(p.fields),
                "track_ids": [str(t) for t in p.track_ids if t in self.fake.tracks],
                "permalink": p.permalink,
                "created_at": p.created_at,
                "last_modified": p.last_modified,
            }
            for p in self.playlists.values()
        ]

    # -- helpers -------------------------------------------------------------------------

    def _json(self, playlist: Playlist, request: Request, *, show: bool = True) -> dict[str, Any]:
        api, now = mount_base(request), self.fake.now()
        tracks = [
            self.fake.tracks[t].as_json(api, now)
            for t in playlist.track_ids
            if t in self.fake.tracks  # a deleted track leaves its sets
        ]
        return playlist.as_json(api, tracks, show=show)

    def _find(self, request: Request, account: Account) -> Playlist | None:
        ref = request.path_params["ref"].removeprefix("soundcloud:playlists:")
        playlist = self.playlists.get(int(ref)) if ref.isdigit() else None
        if playlist is None or playlist.account is account:
            return playlist
        if playlist.fields.get("sharing") == "private":
            secret = request.query_params.get("secret_token")
            return playlist if secret and secret == playlist.secret_token else None
        return playlist

    def _tracks(
        self, checked: PlaylistInput, fields: dict[str, str], account: Account
    ) -> list[int] | Response:
        """The track ids a body names, each one the caller may put in a set of `fields`."""
        ids: list[int] = []
        for urn in checked.track_urns or []:
            track = self.fake.visible_track(urn, account)
            if track is None:
                return sc_error(404, f"Track {urn} was not found")
            if is_release(fields) and track.account is not account:
                return sc_error(
                    422, f"Track {urn} belongs to another user: a release holds only your tracks"
                )
            ids.append(track.id)
        return ids

    def _permalink(self, account: Account, wanted: str) -> str:
        taken = {p.permalink for p in self.playlists.values() if p.account is account}
        base, candidate, n = slug(wanted), slug(wanted), 0
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    async def _body(self, request: Request, *, forms: bool) -> Any:
        """The request's playlist body as JSON, from JSON or (on create) a form."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                return await request.json()
            except ValueError:
                return sc_error(400, "The body is not valid JSON")
        if forms and ctype in _FORMS:
            try:
                form = await request.form(max_files=2, max_fields=600)
            except Exception as exc:  # any parse failure is the client's 400
                await drain(request)
                return sc_error(400, f"Malformed form body: {exc}")
            try:
                art = form.get("playlist[artwork_data]")
                if isinstance(art, UploadFile):
                    await art.seek(0)
                    if image_format(await art.read(HEAD_BYTES)) is None:
                        return sc_error(422, "Artwork data must be a JPEG, PNG or GIF")
                texts = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
                return playlist_from_form(texts)
            finally:
                await form.close()
        await drain(request)
        accepted = "application/json or multipart/form-data" if forms else "application/json"
        return sc_error(400, f"The body must be {accepted}")

    # -- routes ----------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        account = await self.fake.gate(request, "playlists.create")
        if isinstance(account, Response):
            return account
        body = await self._body(request, forms=True)
        if isinstance(body, Response):
            return body
        limits = self.fake.limits
        checked = check_playlist(
            body,
            title_max=limits.title_max_chars,
            max_tracks=limits.playlist_max_tracks,
            creating=True,
        )
        if isinstance(checked, Response):
            return checked
        now = self.fake.now()
        playlist = Playlist(
            id=1_500_000_000 + int(unique_id(8, "0123456789")),
            account=account,
            fields=checked.fields,
            track_ids=[],
            permalink=self._permalink(
                account, checked.fields.get("permalink") or checked.fields["title"]
            ),
            created_at=now,
            last_modified=now,
            secret_token="s-" + unique_id(10),
        )
        ids = self._tracks(checked, playlist.fields, account)
        if isinstance(ids, Response):
            return ids
        playlist.track_ids = ids
        self.playlists[playlist.id] = playlist
        if self.fake.take_drop_after_commit():
            return AbortConnection()  # the set exists; the client never hears of it
        return JSONResponse(self._json(playlist, request), status_code=201)

    async def _get(self, request: Request) -> Response:
        account = await self.fake.gate(request, "playlists.get")
        if isinstance(account, Response):
            return account
        playlist = self._find(request, account)
        if playlist is None:
            return sc_error(404, "404 - Not Found")
        show = request.query_params.get("show_tracks", "true").lower() not in {"false", "0"}
        return JSONResponse(self._json(playlist, request, show=show))

    async def _update(self, request: Request) -> Response:
        """PUT: the fields given replace the stored ones; a `tracks` list replaces them all."""
        account = await self.fake.gate(request, "playlists.update")
        if isinstance(account, Response):
            return account
        playlist = self._find(request, account)
        if playlist is None:
            await drain(request)
            return sc_error(404, "404 - Not Found")
        if playlist.account is not account:
            await drain(request)
            return sc_error(403, "Only the playlist's owner may change it")
        body = await self._body(request, forms=False)
        if isinstance(body, Response):
            return body
        limits = self.fake.limits
        checked = check_playlist(
            body,
            title_max=limits.title_max_chars,
            max_tracks=limits.playlist_max_tracks,
            creating=False,
        )
        if isinstance(checked, Response):
            return checked
        fields = {**playlist.fields, **checked.fields}
        if checked.track_urns is not None:
            ids = self._tracks(checked, fields, account)
            if isinstance(ids, Response):
                return ids
            playlist.track_ids = ids
        playlist.fields = fields
        playlist.last_modified = self.fake.now()
        return JSONResponse(self._json(playlist, request))

    async def _delete(self, request: Request) -> Response:
        account = await self.fake.gate(request, "playlists.delete")
        if isinstance(account, Response):
            return account
        playlist = self._find(request, account)
        if playlist is None:
            return sc_error(404, "404 - Not Found")
        if playlist.account is not account:
            return sc_error(403, "Only the playlist's owner may delete it")
        del self.playlists[playlist.id]
        return JSONResponse({"status": "200 - OK"})

    async def _mine(self, request: Request) -> Response:
        """The caller's sets, newest first, paged like `/me/tracks`."""
        account = await self.fake.gate(request, "me.playlists")
        if isinstance(account, Response):
            return account
        show = request.query_params.get("show_tracks", "true").lower() not in {"false", "0"}
        own = sorted(
            (p for p in self.playlists.values() if p.account is account),
            key=lambda p: (p.created_at, p.id),
            reverse=True,
        )
        return list_page(
            request.query_params,
            own,
            lambda p: self._json(p, request, show=show),
            url=f"{mount_base(request)}/me/playlists",
            default=self.fake.limits.page_default,
            maximum=self.fake.limits.page_max,
        )
