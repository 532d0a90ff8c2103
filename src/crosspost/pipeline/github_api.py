"""A client of GitHub's REST API for what the pipeline needs: a repository's commits, pull
requests, issues and releases of a time range, and a file committed to a branch and
proposed as a pull request through the Git data API.

Every request names its API version and a User-Agent, as GitHub requires. Reads are
conditional: the `ETag` of each page read is kept (by the caller, across runs) and sent
back as `If-None-Match`; a `304` (free against the rate limit) means the page has not
changed, so its events are already held. The rate limit is read from every answer: a spent
primary limit or a secondary limit is a `rate_limited` ProviderError with the wait.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from crosspost import __version__
from crosspost.clock import Clock
from crosspost.domain.enums import ErrorKind
from crosspost.providers.errors import ProviderError, retry_after_seconds

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
# What was read of each page URL: {"etag": …, "next": the next page's URL or None}.
Seen = MutableMapping[str, dict[str, str | None]]
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True)
class Page:
    """One page read: its items, or None when GitHub answered 304 (unchanged)."""

    url: str
    items: list[dict[str, Any]] | None
    etag: str | None


class GitHubClient:
    """GitHub's REST API with one token (a fine-grained or classic PAT, or an app's)."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        *,
        clock: Clock,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self._http = http
        self._token = token
        self._clock = clock
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r})"  # never the token

    # -- reads ----------------------------------------------------------------------------

    def pages(self, path: str, params: Mapping[str, str], seen: Seen) -> Iterator[Page]:
        """Every page of a list, following `Link: rel="next"`. `seen` (URL → its ETag and
        next page's URL, kept by the caller across runs) is read for If-None-Match and
        updated with what GitHub answered; a page answered 304 is yielded without items."""
        url: str | None = str(
            httpx.URL(f"{self.base_url}{path}", params={**params, "per_page": str(PER_PAGE)})
        )
        while url is not None:
            known = seen.get(url) or {}
            headers = {"If-None-Match": known["etag"]} if known.get("etag") else {}
            answer = self._send("GET", url, headers=headers)
            if answer.status_code == 304:
                yield Page(url, None, known.get("etag"))
                url = known.get("next")  # its own ETag says whether it changed
                continue
            body = _json(answer)
            if not isinstance(body, list):
                raise _unexpected(answer, "a list")
            found = _NEXT.search(answer.headers.get("link", ""))
            following = found.group(1) if found else None
            etag = answer.headers.get("etag")
            seen[url] = {"etag": etag, "next": following}
            yield Page(url, [item for item in body if isinstance(item, dict)], etag)
            url = following

    def commits(self, repo: str, since: datetime, until: datetime, seen: Seen) -> Iterator[Page]:
        """Pages of the default branch's commits made in [since, until)."""
        params = {"since": _iso(since), "until": _iso(until)}
        return self.pages(f"/repos/{_repo(repo)}/commits", params, seen)

    def pulls(self, repo: str, seen: Seen) -> Iterator[Page]:
        """Pages of every pull request, most recently updated first."""
        params = {"state": "all", "sort": "updated", "direction": "desc"}
        return self.pages(f"/repos/{_repo(repo)}/pulls", params, seen)

    def issues(self, repo: str, since: datetime, seen: Seen) -> Iterator[Page]:
        """Pages of the issues (and pull requests, which GitHub lists too) updated since."""
        params = {"state": "all", "since": _iso(since), "sort": "updated", "direction": "desc"}
        return self.pages(f"/repos/{_repo(repo)}/issues", params, seen)

    def releases(self, repo: str, seen: Seen) -> Iterator[Page]:
        """Pages of the releases, newest first."""
        return self.pages(f"/repos/{_repo(repo)}/releases", {}, seen)

    # -- a file proposed as a pull request -------------------------------------------------

    def default_branch(self, repo: str) -> str:
        """The repository's default branch."""
        body = self._object("GET", f"/repos/{_repo(repo)}")
        return str(body["default_branch"])

    def branch_sha(self, repo: str, branch: str) -> str | None:
        """The commit a branch points at; None when there is no such branch."""
        answer = self._send(
            "GET",
            f"{self.base_url}/repos/{_repo(repo)}/git/ref/heads/{quote(branch, safe='/')}",
            missing_ok=True,
        )
        if answer.status_code == 404:
            return None
        body = _json(answer)
        return str(body["object"]["sha"])

    def file_sha(self, repo: str, path: str, ref: str) -> str | None:
        """The blob sha of a file at `ref`; None when there is none."""
        answer = self._send(
            "GET",
            f"{self.base_url}/repos/{_repo(repo)}/contents/{quote(path)}",
            params={"ref": ref},
            missing_ok=True,
        )
        if answer.status_code == 404:
            return None
        body = _json(answer)
        return str(body["sha"]) if isinstance(body, dict) and "sha" in body else None

    def commit_file(
        self, repo: str, *, parent: str, path: str, content: bytes, message: str
    ) -> str:
        """A new commit on top of `parent` changing one file; its sha (no branch moves)."""
        prefix = f"/repos/{_repo(repo)}/git"
        blob = self._object(
            "POST",
            f"{prefix}/blobs",
            json={"content": base64.b64encode(content).decode(), "encoding": "base64"},
        )
        parent_commit = self._object("GET", f"{prefix}/commits/{parent}")
        tree = self._object(
            "POST",
            f"{prefix}/trees",
            json={
                "base_tree": parent_commit["tree"]["sha"],
                "tree": [{"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}],
            },
        )
        commit = self._object(
            "POST",
            f"{prefix}/commits",
            json={"message": message, "tree": tree["sha"], "parents": [parent]},
        )
        return str(commit["sha"])

    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        """A new branch at `sha`."""
        self._object(
            "POST",
            f"/repos/{_repo(repo)}/git/refs",
            json={"ref": f"refs/heads/{branch}", "sha": sha},
        )

    def move_branch(self, repo: str, branch: str, sha: str) -> None:
        """Point a branch at `sha` (forced: the branch is ours alone)."""
        self._object(
            "PATCH",
            f"/repos/{_repo(repo)}/git/refs/heads/{quote(branch, safe='/')}",
            json={"sha": sha, "force": True},
        )

    def open_pull(self, repo: str, head: str) -> dict[str, Any] | None:
        """The open pull request from `head` (a branch of the same repository), if any."""
        owner = repo.split("/", 1)[0]
        answer = self._send(
            "GET",
            f"{self.base_url}/repos/{_repo(repo)}/pulls",
            params={"head": f"{owner}:{head}", "state": "open"},
        )
        body = _json(answer)
        if not isinstance(body, list):
            raise _unexpected(answer, "a list")
        return dict(body[0]) if body else None

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str
    ) -> dict[str, Any]:
        """Open a pull request."""
        return self._object(
            "POST",
            f"/repos/{_repo(repo)}/pulls",
            json={"title": title, "head": head, "base": base, "body": body},
        )

    def update_pull(self, repo: str, number: int, *, title: str, body: str) -> dict[str, Any]:
        """Change an open pull request's title and description."""
        return self._object(
            "PATCH", f"/repos/{_repo(repo)}/pulls/{number}", json={"title": title, "body": body}
        )

    # -- the wire ---------------------------------------------------------------------------

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._send(method, f"{self.base_url}{path}", **kwargs)
        body = _json(answer)
        if not isinstance(body, dict):
            raise _unexpected(answer, "an object")
        return body

    def _send(
        self, method: str, url: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": f"crosspost/{__version__}",
            "X-GitHub-Api-Version": API_VERSION,
            **kwargs.pop("headers", {}),
        }
        try:
            answer = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "github_unreachable",
                f"GitHub could not be reached ({type(exc).__name__})",
            ) from exc
        if answer.status_code < 300 or answer.status_code == 304:
            return answer
        if answer.status_code == 404 and missing_ok:
            return answer
        raise self._error(answer)

    def _error(self, answer: httpx.Response) -> ProviderError:
        """GitHub's refusal, classified (the message is GitHub's own, which holds no token)."""
        status = answer.status_code
        body = _json(answer, strict=False)
        message = str(body.get("message") if isinstance(body, dict) else "") or answer.reason_phrase
        raw = body if isinstance(body, dict) else None
        remaining = answer.headers.get("x-ratelimit-remaining")
        limited = status == 429 or (
            status == 403 and (remaining == "0" or "rate limit" in message.lower())
        )
        if limited:
            wait = retry_after_seconds(answer.headers)
            reset = answer.headers.get("x-ratelimit-reset")
            if wait is None and reset and reset.isdigit():
                wait = max(0.0, int(reset) - self._clock.now().timestamp())
            return ProviderError(
                ErrorKind.RATE_LIMITED,
                "github_rate_limited",
                message,
                retry_after=wait if wait is not None else 60.0,
                http_status=status,
                raw=raw,
            )
        if status == 401:
            return ProviderError(
                ErrorKind.AUTH,
                "github_token_invalid",
                f"GitHub refused the token: {message}; give the pipeline a valid github_token",
                http_status=status,
                raw=raw,
            )
        if status == 403:
            return ProviderError(
                ErrorKind.AUTH,
                "github_forbidden",
                f"GitHub refused: {message}; the token needs read access "
                "to the repository (write access for recap pull requests)",
                http_status=status,
                raw=raw,
            )
        if status == 404:
            return ProviderError(
                ErrorKind.PERMANENT,
                "github_not_found",
                f"GitHub has no such repository or object for this token "
                f"({answer.request.url.path})",
                http_status=status,
                raw=raw,
            )
        if status >= 500:
            return ProviderError(
                ErrorKind.TRANSIENT,
                "github_unavailable",
                f"GitHub answered {status}",
                http_status=status,
                raw=raw,
                retry_after=retry_after_seconds(answer.headers),
            )
        return ProviderError(
            ErrorKind.PERMANENT,
            "github_refused",
            f"GitHub answered {status}: {message}",
            http_status=status,
            raw=raw,
        )


def _repo(repo: str) -> str:
    owner, _, name = repo.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(answer: httpx.Response, *, strict: bool = True) -> Any:
    try:
        return answer.json()
    except ValueError:
        if not strict:
            return None
        raise _unexpected(answer, "JSON") from None


def _unexpected(answer: httpx.Response, expected: str) -> ProviderError:
    return ProviderError(
        ErrorKind.TRANSIENT,
        "github_unexpected",
        f"GitHub answered {answer.status_code} without {expected}",
        http_status=answer.status_code,
    )
