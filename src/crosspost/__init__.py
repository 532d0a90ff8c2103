"""crosspost: publish a clip everywhere, exactly once."""

__version__ = "0.1.0"
