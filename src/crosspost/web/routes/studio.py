"""Studio: the tenant's projects, their sources, clips and renders, read and acted on
through the API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
