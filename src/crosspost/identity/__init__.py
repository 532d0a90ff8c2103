"""Tenants, the operator's keys, the audit log: who may act on this server, and what they did."""
