"""Usage: metering, monthly quotas, API rate limits and request analytics."""
