"""Secrets at rest: the AES-GCM keyring, API key hashing, and (later) OAuth linking."""
