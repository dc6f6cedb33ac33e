"""The service database: SQLAlchemy Core tables (``tables``), Alembic migrations (``migrate``) and
engines for SQLite (default) and PostgreSQL (replicas sharing one database).

Boundary rule: the one storage module of the service; other service modules ask it rather than
speaking SQL to their own connections. It imports neither Flask nor the search core.
"""
from __future__ import annotations

from search.service.db.engine import DatabaseError, make_engine
from search.service.db.migrate import NotMigrated, ensure_current, head_revision, status, upgrade

__all__ = ["DatabaseError", "NotMigrated", "ensure_current", "head_revision", "make_engine", "status", "upgrade"]
