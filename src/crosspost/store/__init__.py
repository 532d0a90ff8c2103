"""Storage: tables, the database handle, migrations and the repositories that name SQL."""
