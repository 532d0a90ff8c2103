"""What every client of an OpenAI-style API shares: the key sent per request and kept out of
reprs and errors, the HTTP client it owns or borrows, and the service's failures classified as
`ProviderError`s (by HTTP status and OpenAI's error codes).

A client subclasses `OpenAIHTTP`, names its settings for the messages and adds the statuses
only its endpoint answers (`_classify_more`); the request body and the parse of a 200 stay its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from crosspost import __version__
from crosspost.domain.enums import ErrorKind
from crosspost.providers.errors import ProviderError, retry_after_seconds

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The key as OpenAI's errors show it (whole, or masked after "provided: ").
_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_*.\-]{3,}|(?<=provided: )\S+")
_CONNECT_SECONDS = 10.0

# Builds one classified failure of the response at hand: kind, our code, message.
Failure = Callable[[ErrorKind, str, str], ProviderError]


class OpenAIHTTP:
    """Base of the clients of an OpenAI-compatible API: key, HTTP client, sending, errors.

    `http` is borrowed and left open; without it the client owns one (close it, or use ``with``).
    """

    # How the messages name the settings that hold this client's key, base URL and timeout.
    _settings: ClassVar[str]
    _timeout_advice: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout: float,
        http: httpx.Client | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=_CONNECT_SECONDS),
            follow_redirects=False,
            headers={"User-Agent": f"crosspost/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _host(self) -> str:
        return httpx.URL(self.base_url).host or self.base_url

    def _post(
        self,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """POST to `path` under the base URL; any answer but 200 is raised as a ProviderError."""
        try:
            # The key goes per request, so a borrowed client never keeps it in its headers.
            response = self._http.post(
                f"{self.base_url}{path}",
                json=json,
                data=data,
                files=files,
                headers={"Authorization": f"Bearer {self._api_key}"},
                timeout=httpx.Timeout(self.timeout, connect=_CONNECT_SECONDS),
            )
        # `from None`: the httpx error (its request and headers) must not ride along as context.
        except httpx.TimeoutException:
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "timeout",
                f"{self._host} did not answer within {self.timeout:.0f} s: retry later, or "
                f"{self._timeout_advice}",
            ) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "unreachable",
                f"could not reach {self._host} ({type(exc).__name__}): retry later, and check "
                f"the {self._settings} base URL if this persists",
            ) from None
        if response.status_code != 200:
            raise self._classify(response)
        return response

    def _redact(self, value: Any) -> Any:
        """`value` with the API key (whole, or as the service masks it) taken out."""
        if isinstance(value, str):
            return _KEYLIKE.sub("[redacted]", value.replace(self._api_key, "[redacted]"))
        if isinstance(value, dict):
            return {k: self._redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact(v) for v in value]
        return value

    def _malformed(self, response: httpx.Response, message: str) -> ProviderError:
        """A 200 whose body is not the endpoint's answer: transient (a proxy's page, a cut
        connection), with the body redacted as raw."""
        return ProviderError(
            ErrorKind.TRANSIENT,
            "malformed_response",
            message,
            http_status=response.status_code,
            raw=self._redact(response.text[:500]),
        )

    def _classify(self, response: httpx.Response) -> ProviderError:
        """The service's error answer as a ProviderError (kind by status, OpenAI's codes)."""
        status = response.status_code
        try:
            body = self._redact(response.json())
        except ValueError:
            body = self._redact(response.text[:500])
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        said = str(error.get("message") or (body if isinstance(body, str) else "")).strip()
        code = str(error.get("code") or "")
        param = f" (parameter {error['param']})" if error.get("param") else ""

        def failure(kind: ErrorKind, ours: str, message: str) -> ProviderError:
            retryable = kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED)
            wait = retry_after_seconds(response.headers) if retryable else None
            return ProviderError(
                kind, ours, message, retry_after=wait, http_status=status, raw=body
            )

        if status == 401:
            return failure(
                ErrorKind.AUTH,
                code or "invalid_api_key",
                f"{self._host} refused the API key (HTTP 401): set a valid key in the "
                f"{self._settings} settings",
            )
        if status == 403:
            return failure(
                ErrorKind.AUTH,
                code or "forbidden",
                f"{self._host} refused access (HTTP 403: {said or 'no detail'}): give the key's "
                f"project access to {self.model}",
            )
        if status == 429 and code == "insufficient_quota":
            return failure(
                ErrorKind.QUOTA,
                code,
                f"the account at {self._host} has no credit left ({said}): add credit or "
                "raise its spending limit",
            )
        special = self._classify_more(status, code, said, failure)
        if special is not None:
            return special
        if status == 404:
            return failure(
                ErrorKind.PERMANENT,
                code or "not_found",
                f"{self._host} answered 404 ({said or 'no detail'}): check the base URL "
                f"({self.base_url}) and that the model {self.model!r} exists there",
            )
        return failure(
            ErrorKind.PERMANENT,
            code or "invalid_request",
            f"{self._host} refused the request (HTTP {status}{param}: "
            f"{said or 'no detail'}): change what it names and send it again",
        )

    def _classify_more(
        self, status: int, code: str, said: str, failure: Failure
    ) -> ProviderError | None:
        """This endpoint's own reading of `status` (after auth and quota, before 404 and the
        permanent rest), or None to leave it to those; `said` is the service's message."""
        return None

    def _try_later(self, status: int, said: str) -> str:
        """The message of a failure that may pass (rate limits, server errors)."""
        return f"{self._host} answered HTTP {status} ({said or 'no detail'}): retry later"


__all__ = ["DEFAULT_BASE_URL", "Failure", "OpenAIHTTP"]
