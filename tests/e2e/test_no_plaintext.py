"""No token in plain text: not in the database file, the logs, or any API response."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from crosspost.config import Settings
from crosspost.store import accounts
from crosspost.vault import credentials as vault_creds
from tests.e2e.conftest import Stack


def _tokens(stack: Stack) -> list[str]:
    with stack.svc.db.read() as conn:
        rows = accounts.find_accounts(conn, stack.tenant_id)
    found: list[str] = []
    for row in rows:
        creds = vault_creds.unseal(stack.svc.keyring, row)
        assert creds is not None
        found += [t for t in (creds.access_token, creds.refresh_token) if t]
    return found


def test_tokens_never_rest_or_print_in_plain_text(
    stack: Stack, tmp_path: Path, process_logs: Callable[[Settings], io.StringIO]
) -> None:
    """Publish (with a refresh) while logging at DEBUG, then look for every token, old and
    new, in the SQLite files, what the process logged and the API's answers."""
    output = process_logs(stack.svc.settings.model_copy(update={"log_level": "DEBUG"}))
    # crosspost keeps the HTTP client quiet; an operator debugging may not: let it talk.
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    before = _tokens(stack)
    stack.fake("youtube", "faults", json={"expire_tokens": True})  # forces a refresh on 401
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.http.post(
        "/v1/posts",
        json={"media_id": media["id"], "text": "secret-free", "targets": ["youtube", "tiktok"]},
    ).json()
    post = stack.wait_post(post["id"], lambda p: p["status"] == "published")
    after = _tokens(stack)
    assert set(after) != set(before)  # the refresh really happened
    answers = "".join(
        stack.http.get(path).text
        for path in ("/v1/accounts", f"/v1/posts/{post['id']}", f"/v1/posts/{post['id']}/ledger")
    )
    logs = output.getvalue()
    stored = b""
    if stack.svc.db.is_sqlite:
        database = Path(str(make_url(stack.svc.db.url).database))
        stored = b"".join(p.read_bytes() for p in database.parent.glob(f"{database.name}*"))
        assert len(stored) > 10_000, "the SQLite files were not found"
    for token in {*before, *after}:
        assert token not in answers
        assert token not in logs
        assert token.encode() not in stored
    assert "HTTP Request" in logs  # the client's own logs were captured, and scanned
