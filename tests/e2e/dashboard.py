"""A signed-in browser for the dashboard's over-HTTP tests: its client and CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from crosspost.identity.sandbox_owner import SANDBOX_EMAIL, ensure_sandbox_owner
from tests.e2e.conftest import Stack

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


class Browser:
    """A signed-in browser: its client and the session's CSRF token."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.Client(
            base_url=stack.api_url, headers={"Origin": stack.api_url}, timeout=30
        )
        signed = self.http.post("/app/sign-in", data={"email": SANDBOX_EMAIL, "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        page = self.http.get("/app/posts")
        found = CSRF.search(page.text)
        assert found is not None
        self.csrf = found.group(1)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        """A form of the dashboard, sent with the session's CSRF token."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        form: dict[str, list[str]] = {"csrf_token": [self.csrf]}
        for name, value in pairs:
            form.setdefault(name, []).append(value)
        return self.http.post(path, data=form)


def with_owner(stack: Stack) -> Stack:
    """The stack, with the sandbox owner able to sign in with PASSWORD."""
    ensure_sandbox_owner(stack.svc, stack.tenant_id, PASSWORD)
    return stack
