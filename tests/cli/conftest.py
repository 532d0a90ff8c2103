"""The CLI under test: the `serve` fixture (tests/conftest.py) runs `crosspost serve
--sandbox`; the helpers live in tests/served.py."""

from __future__ import annotations

from tests.served import Served, clean_env, free_port, run_cli

__all__ = ["Served", "clean_env", "free_port", "run_cli"]
