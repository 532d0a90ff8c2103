"""Developers' credentials beyond API keys: a key's signing secrets and the signing policy,
OAuth apps (and the grants people gave them) and OAuth client credentials."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
