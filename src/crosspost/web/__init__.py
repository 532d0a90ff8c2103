"""The dashboard under /app: server-rendered pages (Jinja2, htmx) for the people of a tenant
and the server's operator. Every page reads and every action changes through the API itself,
called in-process as the signed-in person, so the dashboard can do nothing the API would
refuse them."""
