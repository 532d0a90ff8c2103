"""The HTTP API: FastAPI app factory, auth, errors, pagination and one router per resource."""
