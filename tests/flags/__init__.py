"""Feature flags: rules, store and cache, OpenFeature, CLI and admin API."""
