"""Alembic migrations of the service database, shipped inside the package (``search.service.db``
runs them programmatically; no alembic.ini is needed at run time)."""
