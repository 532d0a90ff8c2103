"""The LinkedIn fake's Images API: `POST /rest/images?action=initializeUpload`, the upload
URL's `PUT`, `GET /rest/images/{urn}`; and which images a post may name."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import drain, mount_base, unique_id
from crosspost.fakes.linkedin_rules import LinkedInLimits, li_error, may_act_as
from crosspost.fakes.tokens import Account

UPLOAD_URL_TTL = 3600.0
MULTI_IMAGE_MIN, MULTI_IMAGE_MAX = 2, 20
# What an image file starts with: LinkedIn takes JPG, GIF and PNG.
_MAGIC = (b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n")


@dataclass
class Image:
    """One image asset: registered, then uploaded once."""

    id: str
    owner: str
    token: str
    created_at: float
    sha256: str | None = None
    size: int = 0
    bad_format: bool = False

    @property
    def urn(self) -> str:
        """`urn:li:image:<id>`."""
        return f"urn:li:image:{self.id}"

    @property
    def status(self) -> str:
        """WAITING_UPLOAD until the bytes arrive; then AVAILABLE, or PROCESSING_FAILED."""
        if self.sha256 is None:
            return "WAITING_UPLOAD"
        return "PROCESSING_FAILED" if self.bad_format else "AVAILABLE"


class Images:
    """Every image asset the fake holds."""

    def __init__(self, now: Callable[[], float], limits: LinkedInLimits) -> None:
        self.now = now
        self.limits = limits
        self.images: dict[str, Image] = {}

    def initialize(self, request: Request, account: Account, body: Any) -> Response:
        """Register an image for `owner`; its upload URL (one hour) and URN."""
        init = body.get("initializeUploadRequest") if isinstance(body, dict) else None
        owner = init.get("owner") if isinstance(init, dict) else None
        if not isinstance(owner, str):
            return li_error(
                422,
                "UNPROCESSABLE_ENTITY",
                "ERROR :: /initializeUploadRequest/owner :: field is required",
            )
        if not may_act_as(account, owner, self.limits):
            return li_error(
                403, "ACCESS_DENIED", f"Not enough permissions to upload as {owner}", 100
            )
        image = Image(f"D4E10AQ{unique_id(16)}", owner, unique_id(24), self.now())
        self.images[image.id] = image
        url = f"{mount_base(request)}/dms-uploads/image/{image.id}?sau={image.token}"
        expires = int((image.created_at + UPLOAD_URL_TTL) * 1000)
        return JSONResponse(
            {"value": {"uploadUrlExpiresAt": expires, "uploadUrl": url, "image": image.urn}}
        )

    async def upload(self, request: Request, account: Account) -> Response:
        """The PUT of an image's bytes to its upload URL (201), by its owner's token."""
        image = self.images.get(request.path_params["image_id"])
        if image is None or image.token != request.query_params.get("sau"):
            await drain(request)
            return li_error(404, "NOT_FOUND", "The upload URL is not valid.")
        if not may_act_as(account, image.owner, self.limits):
            await drain(request)
            return li_error(
                403, "ACCESS_DENIED", "Not enough permissions to upload this image", 100
            )
        if self.now() >= image.created_at + UPLOAD_URL_TTL:
            await drain(request)
            return li_error(403, "ACCESS_DENIED", "The upload URL has expired.")
        data = await request.body()
        if not data:
            return li_error(400, "BAD_REQUEST", "The image is empty.")
        image.sha256 = hashlib.sha256(data).hexdigest()
        image.size = len(data)
        image.bad_format = not data.startswith(_MAGIC)
        return Response(status_code=201)

    def get(self, account: Account, urn: str) -> Response:
        """`GET /rest/images/{urn}`: the asset and its status, for its owner."""
        image = self.images.get(urn.removeprefix("urn:li:image:"))
        if image is None or not urn.startswith("urn:li:image:"):
            return li_error(404, "NOT_FOUND", f"Image {urn} does not exist")
        if not may_act_as(account, image.owner, self.limits):
            return li_error(403, "ACCESS_DENIED", f"Not enough permissions to read {urn}", 100)
        return JSONResponse({"id": image.urn, "owner": image.owner, "status": image.status})

    def refusal(self, urns: list[str], author: str) -> Response | None:
        """Why a post by `author` may not name these images (None: it may)."""
        for urn in urns:
            image = self.images.get(urn.removeprefix("urn:li:image:"))
            if image is None or image.owner != author:
                return li_error(
                    422, "UNPROCESSABLE_ENTITY", f"Media {urn} is not owned by {author}"
                )
            if image.status != "AVAILABLE":
                return li_error(400, "BAD_REQUEST", f"Image {urn} is in state {image.status}")
        return None

    def state(self) -> list[dict[str, Any]]:
        """Each image: URN, owner, status, size and digest."""
        return [
            {"id": i.urn, "owner": i.owner, "status": i.status, "size": i.size, "sha256": i.sha256}
            for i in self.images.values()
        ]


def content_images(content: dict[str, Any]) -> list[str] | str | None:
    """The image URNs a post's `content` names (None: it names no image), or why the
    content is malformed."""
    several = content.get("multiImage")
    if several is not None:
        images = several.get("images") if isinstance(several, dict) else None
        if not isinstance(images, list) or not all(
            isinstance(i, dict) and isinstance(i.get("id"), str) for i in images
        ):
            return "ERROR :: /content/multiImage/images :: required"
        if not MULTI_IMAGE_MIN <= len(images) <= MULTI_IMAGE_MAX:
            return (
                f"ERROR :: /content/multiImage/images :: a multi-image post holds "
                f"{MULTI_IMAGE_MIN} to {MULTI_IMAGE_MAX} images"
            )
        return [str(i["id"]) for i in images]
    media = content.get("media")
    if isinstance(media, dict) and str(media.get("id", "")).startswith("urn:li:image:"):
        return [str(media["id"])]
    return None
