"""One module per platform: the client of its real protocol, its limits and its error mapping."""
