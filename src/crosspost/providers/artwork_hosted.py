"""Cover art from hosted image models (seed 003): `ReplicateArtwork` (Replicate's HTTP API,
FLUX or Stable Diffusion) and `StabilityArtwork` (Stability AI's Stable Image API, the
fallback), both behind the `ArtworkGenerator` port.

A hosted model draws the whole picture, and only the picture: the title and artist are the
prompt's subject, but no text is set over the result and the prompt asks the model for none
(a model's lettering is its own guess at the spelling). The image comes back at about a
megapixel; it is cropped square if need be, upscaled to the requested side (3000 px for the
stores) with Lanczos and re-encoded as an RGB JPEG, so it passes the distributors' rules.

Neither client retries: a failure is a `ProviderError` with a stable code (``image_auth_failed``,
``image_quota_exceeded``, ``image_invalid_request``, ``image_moderated``, ``image_rate_limited``,
``image_unavailable``, ``image_failed``, ``image_timeout``, ``image_malformed``) whose kind says
whether to retry; the job that called owns the policy. The key goes per request, only to the
service's own hosts, and is in no repr, log or error.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import re
import time
import warnings
from collections.abc import Callable, Mapping
from random import Random
from typing import Any, ClassVar, Literal

import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import SecretStr

from crosspost.domain.enums import ErrorKind
from crosspost.providers.artwork import (
    QUALITY,
    STYLES,
    ArtworkRequest,
    GeneratedArtwork,
    default_seed,
)
from crosspost.providers.errors import ProviderError, retry_after_seconds

STABILITY_BASE_URL = "https://api.stability.ai"
REPLICATE_BASE_URL = "https://api.replicate.com"
REPLICATE_MODEL = "black-forest-labs/flux-schnell"
SD3_MODEL = "sd3.5-large"
MAX_IMAGE_BYTES = 64 * 1024 * 1024  # a megapixel PNG is a few MB; more is not an answer
# What each built-in style asks a model for.
STYLE_WORDS = {
    "gradient": "soft colour gradients and blurred light",
    "geometric": "bold overlapping geometric shapes",
    "waves": "layered flowing waves under a low sun",
    "grain": "grainy analog film texture",
}
NEGATIVE_PROMPT = "text, letters, words, typography, title, watermark, signature, logo"
_STABILITY_MAX_SEED = 4_294_967_294  # one short of ours, and 0 means "random" there
_PREDICTION_ID = re.compile(r"^[a-z0-9]{6,64}$")
_RUNNING = ("starting", "processing")
_CONNECT_SECONDS = 10.0
# A refused request by status: its kind, our code, and what to do about it.
_REFUSALS: dict[int, tuple[ErrorKind, str, str]] = {
    401: (ErrorKind.AUTH, "image_auth_failed", "the key was refused: set a valid one"),
    402: (ErrorKind.QUOTA, "image_quota_exceeded", "the account has no credit left: add some"),
    403: (ErrorKind.AUTH, "image_auth_failed", "the key has no access to this: grant it"),
    404: (ErrorKind.PERMANENT, "image_invalid_request", "check the model and the base URL"),
    429: (ErrorKind.RATE_LIMITED, "image_rate_limited", "retry after the wait it gives"),
}
_SERVER_FAULT = (ErrorKind.TRANSIENT, "image_unavailable", "retry later")
_BAD_REQUEST = (ErrorKind.PERMANENT, "image_invalid_request", "change what it names and resend")


def cover_prompt(request: ArtworkRequest, style: str) -> str:
    """The model's prompt: an album cover for the release, in the style, with the request's
    own prompt, and no lettering."""
    title, artist = request.title.strip(), request.artist.strip()
    parts = [f"album cover for {title} by {artist}", STYLE_WORDS[style]]
    if request.prompt and request.prompt.strip():
        parts.append(request.prompt.strip())
    return ", ".join([*parts, "no text or lettering"])


def seed_and_style(request: ArtworkRequest) -> tuple[int, str]:
    """The request's seed (derived from the title and artist when not given) and style."""
    seed = default_seed(request.title, request.artist) if request.seed is None else request.seed
    # The same draw as ProceduralArtwork's, so a seed means one style whichever generator runs.
    style = request.style or STYLES[Random(f"{seed}:style").randrange(len(STYLES))]
    return seed, style


def to_cover(data: bytes, size: int, quality: int = QUALITY) -> bytes:
    """`data` (an image Pillow reads) as a `size`-pixel square RGB JPEG, centre-cropped and
    resized with Lanczos; ValueError when it is not a whole image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture: Image.Image = Image.open(io.BytesIO(data))
            picture.load()
    except (UnidentifiedImageError, OSError, EOFError, SyntaxError, ValueError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError("an image of too many pixels") from None
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        # Stores refuse transparency: what is see-through becomes black.
        rgba = picture.convert("RGBA")
        picture = Image.new("RGB", rgba.size)
        picture.paste(rgba, mask=rgba.getchannel("A"))
    picture = picture.convert("RGB")
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side))
    if side != size:
        picture = picture.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


class _Hosted:
    """What both clients share: the key, the borrowed HTTP client, sending, failures."""

    generator: ClassVar[str]

    def __init__(
        self, http: httpx.Client, key: str, base_url: str, timeout: float, quality: int
    ) -> None:
        if not key:
            raise ValueError("an API key is required")
        self._http = http
        self._key = SecretStr(key)  # SecretStr: masked even in vars() and tracebacks' locals
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.quality = quality

    @property
    def host(self) -> str:
        """The API's host, as messages name it."""
        return httpx.URL(self.base_url).host or self.base_url

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.get_secret_value()}"}

    def _send(self, method: str, path: str, *, timeout: float, **kwargs: Any) -> httpx.Response:
        """One API request; a timeout or a lost connection is a transient ProviderError."""
        try:
            return self._http.request(
                method,
                f"{self.base_url}{path}",
                timeout=httpx.Timeout(timeout, connect=_CONNECT_SECONDS),
                follow_redirects=False,
                **kwargs,
            )
        # `from None`: the httpx error's request (and its headers) must not ride along.
        except httpx.TimeoutException:
            advice = f"did not answer within {timeout:.0f} s: retry later"
            raise self._error(ErrorKind.TRANSIENT, "image_timeout", advice) from None
        except httpx.TransportError as exc:
            advice = f"could not be reached ({type(exc).__name__}): retry later"
            raise self._error(ErrorKind.TRANSIENT, "image_unavailable", advice) from None

    def _error(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        response: httpx.Response | None = None,
        raw: Any = None,
    ) -> ProviderError:
        """A ProviderError whose message starts with the host; the key is taken out."""
        wait = None
        if response is not None and kind is ErrorKind.RATE_LIMITED:
            wait = retry_after_seconds(response.headers)
        status = response.status_code if response is not None else None
        return ProviderError(
            kind,
            code,
            self._redact(f"{self.host} {message}"),
            retry_after=wait,
            http_status=status,
            raw=self._redact(raw),
        )

    def _redact(self, value: Any) -> Any:
        """`value` with the key taken out (a service may echo what it was sent)."""
        key = self._key.get_secret_value()
        if isinstance(value, str):
            return value.replace(key, "[redacted]")
        if isinstance(value, dict):
            return {k: self._redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact(v) for v in value]
        return value

    def _refusal(self, response: httpx.Response, said: str, raw: Any) -> ProviderError:
        """A refused request as a ProviderError, by its status."""
        status = response.status_code
        kind, code, advice = _REFUSALS.get(status, _SERVER_FAULT if status >= 500 else _BAD_REQUEST)
        message = f"answered HTTP {status} ({said or 'no detail'}): {advice}"
        return self._error(kind, code, message, response, raw)

    def _finish(
        self, request: ArtworkRequest, seed: int, style: str, data: bytes
    ) -> GeneratedArtwork:
        """The service's image made the cover."""
        try:
            cover = to_cover(data, request.size, self.quality)
        except ValueError as exc:
            raise self._error(ErrorKind.TRANSIENT, "image_malformed", f"sent {exc}") from None
        return GeneratedArtwork(
            data=cover,
            width=request.size,
            height=request.size,
            seed=seed,
            style=style,
            generator=self.generator,
        )


class StabilityArtwork(_Hosted):
    """`ArtworkGenerator` over Stability AI's ``POST /v2beta/stable-image/generate/{endpoint}``
    (``core``, ``ultra``, or ``sd3`` with a `model` such as ``sd3.5-large``); `http` is
    borrowed and left open."""

    generator = "stability"

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_key: str,
        base_url: str = STABILITY_BASE_URL,
        endpoint: Literal["core", "ultra", "sd3"] = "core",
        model: str | None = None,
        timeout: float = 120.0,
        quality: int = QUALITY,
    ) -> None:
        super().__init__(http, api_key, base_url, timeout, quality)
        if model is not None and endpoint != "sd3":
            raise ValueError(f"the {endpoint} endpoint has one model; give a model only for sd3")
        self.endpoint = endpoint
        self.model = model or (SD3_MODEL if endpoint == "sd3" else None)

    def __repr__(self) -> str:
        shown = f"base_url={self.base_url!r}, endpoint={self.endpoint!r}, model={self.model!r}"
        return f"StabilityArtwork({shown})"

    def generate(self, request: ArtworkRequest) -> GeneratedArtwork:
        """Generate one square PNG at the service and make it the cover."""
        seed, style = seed_and_style(request)
        # 0 would mean "random" there and its range stops one short of ours: those two seeds
        # are folded in, so every seed stays deterministic.
        wire_seed = seed if 0 < seed <= _STABILITY_MAX_SEED else 1 + seed % _STABILITY_MAX_SEED
        form = {
            "prompt": cover_prompt(request, style),
            "aspect_ratio": "1:1",
            "output_format": "png",  # lossless: the one lossy step is our own JPEG
            "seed": str(wire_seed),
        }
        if self.model is None or "turbo" not in self.model:  # turbo models take no negative
            form["negative_prompt"] = NEGATIVE_PROMPT
        if self.model is not None:
            form["model"] = self.model
        response = self._send(
            "POST",
            f"/v2beta/stable-image/generate/{self.endpoint}",
            timeout=self.timeout,
            headers={**self._auth(), "Accept": "image/*"},
            # (None, value) parts: a multipart form without files, which the API requires.
            files={name: (None, value) for name, value in form.items()},
        )
        if response.status_code != 200:
            raise self._stability_refusal(response)
        if response.headers.get("finish-reason") == "CONTENT_FILTERED":
            advice = "filtered the image as against its content policy: change the prompt"
            raise self._error(ErrorKind.PERMANENT, "image_moderated", advice, response)
        return self._finish(request, seed, style, response.content)

    def _stability_refusal(self, response: httpx.Response) -> ProviderError:
        """Stability's ``{"name", "errors": [...]}`` read for the message; a 403 named
        content_moderation is the prompt, not the key."""
        raw = _body(response)
        body = raw if isinstance(raw, dict) else {}
        errors = body.get("errors")
        errors = errors if isinstance(errors, list) else []
        said = "; ".join(map(str, errors)) or str(body.get("name") or "")
        if response.status_code == 403 and body.get("name") == "content_moderation":
            advice = f"flagged the request ({said}): change the prompt"
            return self._error(ErrorKind.PERMANENT, "image_moderated", advice, response, raw)
        error = self._refusal(response, said, raw)
        if error.code == "image_rate_limited" and error.retry_after is None:
            error.retry_after = 60.0  # the time-out it documents for a key over the limit
        return error


class ReplicateArtwork(_Hosted):
    """`ArtworkGenerator` over Replicate's ``POST /v1/models/{owner}/{name}/predictions``.

    It asks with ``Prefer: wait=<sync_wait>`` (None: never), polls ``GET /v1/predictions/{id}``
    every `poll_interval` seconds while the prediction runs, and gives up (cancelling it) at
    `timeout` seconds in all. `extra_input` adds model-specific inputs; `clock` and `sleep` are
    the time it polls by (tests move them). `http` is borrowed and left open.
    """

    generator = "replicate"

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_token: str,
        base_url: str = REPLICATE_BASE_URL,
        model: str = REPLICATE_MODEL,
        timeout: float = 180.0,
        sync_wait: int | None = 60,
        poll_interval: float = 1.0,
        extra_input: Mapping[str, Any] | None = None,
        quality: int = QUALITY,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(http, api_token, base_url, timeout, quality)
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", model):
            raise ValueError(f"model {model!r} is not owner/name (an official model)")
        if sync_wait is not None and not 1 <= sync_wait <= 60:
            raise ValueError("sync_wait is 1..60 seconds, or None to poll from the start")
        self.model = model
        self.sync_wait = sync_wait
        self.poll_interval = poll_interval
        self.extra_input = dict(extra_input or {})
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"ReplicateArtwork(base_url={self.base_url!r}, model={self.model!r})"

    def generate(self, request: ArtworkRequest) -> GeneratedArtwork:
        """Run one prediction to its end, download its image and make it the cover."""
        seed, style = seed_and_style(request)
        deadline = self._clock() + self.timeout
        given: dict[str, Any] = {"prompt": cover_prompt(request, style), "aspect_ratio": "1:1"}
        given |= {"output_format": "png", "seed": seed, **self.extra_input}
        headers, wait = self._auth(), 0
        if self.sync_wait is not None:
            wait = max(1, min(self.sync_wait, math.ceil(deadline - self._clock())))
            headers["Prefer"] = f"wait={wait}"
        response = self._send(
            "POST",
            f"/v1/models/{self.model}/predictions",
            json={"input": given},
            headers=headers,
            timeout=wait + 30.0,  # the service holds a sync request up to `wait` seconds
        )
        prediction = self._prediction(response, (200, 201, 202))
        # A sync answer sends the files as soon as they all exist, its status still processing.
        done = prediction["status"] == "succeeded" or bool(
            wait and prediction["status"] == "processing" and prediction.get("output")
        )
        while not done:
            if prediction["status"] not in _RUNNING:
                raise self._failed(prediction)
            left = deadline - self._clock()
            if left <= 0:
                self._cancel(prediction["id"])
                advice = (
                    f"still had the prediction {prediction['status']} after {self.timeout:g} s "
                    "(it was cancelled): retry later, or raise the timeout"
                )
                raise self._error(ErrorKind.TRANSIENT, "image_timeout", advice)
            self._sleep(min(self.poll_interval, left))
            path = f"/v1/predictions/{prediction['id']}"
            response = self._send("GET", path, headers=self._auth(), timeout=max(1.0, left))
            prediction = self._prediction(response, (200,))
            done = prediction["status"] == "succeeded"
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str):
            advice = "finished the prediction without an image: check the model makes images"
            raise self._error(ErrorKind.PERMANENT, "image_malformed", advice)
        return self._finish(request, seed, style, self._download(url, deadline))

    def _prediction(self, response: httpx.Response, ok: tuple[int, ...]) -> dict[str, Any]:
        """The prediction a successful answer holds; any other answer raised classified."""
        if response.status_code not in ok:
            raise self._replicate_refusal(response)
        body = _body(response)
        if (
            not isinstance(body, dict)
            or not _PREDICTION_ID.match(str(body.get("id")))
            or body.get("status") not in (*_RUNNING, "succeeded", "failed", "canceled")
        ):
            advice = f"answered {response.status_code} with no prediction: check the base URL"
            raise self._error(ErrorKind.TRANSIENT, "image_malformed", advice, response, body)
        return body

    def _failed(self, prediction: dict[str, Any]) -> ProviderError:
        said = str(prediction.get("error") or "no error given").strip()
        if prediction["status"] == "canceled":
            said = "the prediction was canceled"
        advice = f"ran {self.model}, which failed ({said}): change the prompt, or retry"
        return self._error(ErrorKind.PERMANENT, "image_failed", advice, raw=prediction.get("error"))

    def _cancel(self, ident: str) -> None:
        """Stop a prediction given up on, so it stops costing (best effort: it may be over)."""
        with contextlib.suppress(httpx.HTTPError):
            self._http.post(
                f"{self.base_url}/v1/predictions/{ident}/cancel",
                headers=self._auth(),
                timeout=_CONNECT_SECONDS,
            )

    def _download(self, url: str, deadline: float) -> bytes:
        """The output's bytes. The token goes only to the API's host and Replicate's file hosts
        (its reference asks for it there), never to another host an answer names."""
        if url.startswith("data:"):
            with contextlib.suppress(ValueError):
                return base64.b64decode(url.partition(",")[2], validate=True)
        target = httpx.URL(url)
        if target.scheme not in ("http", "https"):
            advice = "named an output that is neither an http(s) nor a base64 data URL"
            raise self._error(ErrorKind.PERMANENT, "image_malformed", advice)
        delivery = target.host == "replicate.delivery" or target.host.endswith(
            ".replicate.delivery"
        )
        headers = self._auth() if delivery or target.host == self.host else {}
        timeout = httpx.Timeout(max(1.0, deadline - self._clock()), connect=_CONNECT_SECONDS)
        data = bytearray()
        try:
            # Redirects are followed: httpx drops the Authorization header across origins.
            with self._http.stream(
                "GET", url, headers=headers, timeout=timeout, follow_redirects=True
            ) as response:
                if response.status_code != 200:
                    response.read()
                    if response.status_code in (401, 403, 429):  # the token, or a rate limit
                        raise self._refusal(response, f"for the output at {target.host}", None)
                    advice = f"output at {target.host} answered HTTP {response.status_code}"
                    raise self._error(ErrorKind.TRANSIENT, "image_unavailable", advice, response)
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        advice = f"sent an output over {MAX_IMAGE_BYTES} bytes, not an image"
                        raise self._error(ErrorKind.TRANSIENT, "image_malformed", advice)
        except httpx.TimeoutException:
            advice = f"output at {target.host} did not arrive in time: retry"
            raise self._error(ErrorKind.TRANSIENT, "image_timeout", advice) from None
        except httpx.TransportError as exc:
            advice = f"output at {target.host} could not be fetched ({type(exc).__name__})"
            raise self._error(ErrorKind.TRANSIENT, "image_unavailable", advice) from None
        return bytes(data)

    def _replicate_refusal(self, response: httpx.Response) -> ProviderError:
        """Replicate's problem details (``title``, ``detail``, ``invalid_fields``) read for the
        message; an HTML page (a proxy's) says nothing worth repeating."""
        raw = _body(response)
        body = raw if isinstance(raw, dict) else {}
        said = str(body.get("detail") or body.get("title") or "").strip()
        fields = body.get("invalid_fields")
        if isinstance(fields, list):
            said = "; ".join(str(f.get("description")) for f in fields if isinstance(f, dict))
        if isinstance(raw, str) and not raw.lstrip().startswith("<"):
            said = raw.strip()
        return self._refusal(response, said, raw)


__all__ = [
    "MAX_IMAGE_BYTES",
    "NEGATIVE_PROMPT",
    "REPLICATE_BASE_URL",
    "REPLICATE_MODEL",
    "SD3_MODEL",
    "STABILITY_BASE_URL",
    "STYLE_WORDS",
    "ReplicateArtwork",
    "StabilityArtwork",
    "cover_prompt",
    "seed_and_style",
    "to_cover",
]
