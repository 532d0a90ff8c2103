"""Content: the pipelines, the content items they made (reviewed here) and their jobs,
read and acted on through the API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
