"""Releases: the tenant's music releases and their distributions as status cards (one per
store), retried or taken down through the API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
