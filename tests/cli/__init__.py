"""Tests of the `crosspost` command."""
