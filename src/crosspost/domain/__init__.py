"""Types shared by the API, the engine, the CLI and the fakes."""
