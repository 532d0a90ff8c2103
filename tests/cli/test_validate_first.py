"""`crosspost publish` asks the server, in one request (`POST /v1/posts/validate` with the
file described, not sent), whether it would take the post — before minutes of upload: a
refused key, an unknown account, a spent quota, a caption too long for an account named by
id are refused with nothing uploaded and their own exit code, in the CLI's words; an
account that needs reconnecting is a warning with its fix (issue 13, item 5).

Nothing uploaded is counted twice: no request reached POST /v1/media (a relay in front of
the server counts them), and the tenant's `bytes_uploaded` did not move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from crosspost.cli._common import ExitCode
from crosspost.domain.enums import Mode
from crosspost.media.samples import make_video
from crosspost.vault.apikeys import generate_key
from tests.relay import Relay, relay
from tests.served import Served, clean_env, run_cli, servers

# One worker runs the module, so its served sandbox (a module fixture) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_validate_first")]


@dataclass
class Site:
    """A served sandbox, a relay in front of it, a developer key and an admin key."""

    served: Served
    front: Relay
    env: dict[str, str]
    admin: str

    def accounts(self) -> dict[str, str]:
        """The sandbox's account ids by platform."""
        listed = run_cli(self.env, "accounts", "list", "--json", cwd=self.served.cwd)
        return {a["platform"]: a["id"] for a in json.loads(listed.stdout)}

    def bytes_uploaded(self) -> int:
        """The tenant's uploaded bytes this month."""
        answer = httpx.get(
            f"{self.served.url}/v1/usage", headers={"Authorization": f"Bearer {self.admin}"}
        )
        answer.raise_for_status()
        return int(answer.json()["tenant"]["bytes_uploaded"])

    def quota(self, **body: Any) -> None:
        """Set (or, with only `metric`, remove) a monthly quota."""
        answer = httpx.put(
            f"{self.served.url}/v1/usage/quotas",
            json=body,
            headers={"Authorization": f"Bearer {self.admin}"},
        )
        answer.raise_for_status()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One served sandbox for the module, reached through a relay that counts requests."""
    tmp = tmp_path_factory.mktemp("validate")
    with servers(tmp) as start:
        served = start(clean_env(CROSSPOST_HOME=str(tmp / "home")), tmp)
        keys = [
            run_cli(served.env, "keys", "create", "--name", name, *role, cwd=tmp).stdout.strip()
            for name, role in (("dev", ()), ("admin", ("--role", "admin")))
        ]
        make_video(tmp / "clip.mp4", seconds=1.0)
        with relay(served.url) as front:
            env = {**served.env, "CROSSPOST_API_KEY": keys[0], "CROSSPOST_API_URL": front.url}
            yield Site(served, front, env, keys[1])


def _refused_before_upload(site: Site, env: dict[str, str], *args: str) -> str:
    """Publish; assert nothing was uploaded; return stderr."""
    before, media = site.bytes_uploaded(), site.front.count("POST", "/v1/media")
    done = run_cli(env, "publish", *args, cwd=site.served.cwd)
    assert site.front.count("POST", "/v1/media") == media, done.stderr
    assert site.bytes_uploaded() == before
    assert "uploading" not in done.stderr and "nothing was uploaded" in done.stderr
    assert site.front.requests[-1] == ("POST", "/v1/posts/validate")
    return f"{done.returncode}\n{done.stderr}"


def test_a_refused_key_uploads_nothing(site: Site) -> None:
    """A well-formed key the server does not know: exit 4, nothing uploaded."""
    stranger = {**site.env, "CROSSPOST_API_KEY": generate_key(Mode.TEST)}
    said = _refused_before_upload(site, stranger, "clip.mp4", "--to", "youtube")
    assert said.startswith(f"{ExitCode.AUTH}\n"), said


def test_an_unknown_account_uploads_nothing(site: Site) -> None:
    """`--to acc_…` that no account has: exit 1, the --to named, nothing uploaded."""
    said = _refused_before_upload(site, site.env, "clip.mp4", "--to", "youtube", "--to", "acc_0")
    assert said.startswith(f"{ExitCode.ERROR}\n"), said
    assert "--to acc_0: no social account 'acc_0'" in said


def test_a_spent_upload_quota_uploads_nothing(site: Site) -> None:
    """A bytes_uploaded quota the file would exceed: exit 1 with the quota's words, before
    the upload (the server is told the file's size, not sent the file)."""
    site.quota(metric="bytes_uploaded", hard_limit=site.bytes_uploaded() + 1000)
    try:
        said = _refused_before_upload(site, site.env, "clip.mp4", "--to", "youtube")
    finally:
        site.quota(metric="bytes_uploaded")
    assert said.startswith(f"{ExitCode.ERROR}\n"), said
    assert "bytes_uploaded" in said


def test_a_caption_too_long_for_an_account_uploads_nothing(site: Site) -> None:
    """X's 280 characters, to an account named by its id (which only the server can tell is
    an X account): exit 1, the limit and the --to that refuses it, nothing uploaded."""
    x = site.accounts()["x"]
    said = _refused_before_upload(site, site.env, "clip.mp4", "--caption", "word " * 80, "--to", x)
    assert said.startswith(f"{ExitCode.ERROR}\n"), said
    assert f"--to {x}: x: the caption is 400 characters; the maximum on x is 280" in said


def test_an_account_to_reconnect_is_a_warning_with_its_fix(site: Site, tmp_path: Path) -> None:
    """An account in needs_reauth does not refuse the post: the check warns before anything
    is created, with the command that fixes it, and following stops on it (exit 12)."""
    httpx.post(f"{site.served.fakes_url}/x/_fake/reset").raise_for_status()
    first = run_cli(site.env, "publish", "--caption", "one", "--to", "x", cwd=site.served.cwd)
    assert first.returncode == ExitCode.ATTENTION, first.stderr
    again = run_cli(site.env, "publish", "--caption", "two", "--to", "x", cwd=site.served.cwd)
    assert again.returncode == ExitCode.ATTENTION, again.stderr
    warned = again.stderr.index("warning: x account acc_")
    assert warned < again.stderr.index("post post_")  # before the post was created
    assert "is needs_reauth" in again.stderr
    assert "run `crosspost accounts connect x`" in again.stderr
