"""Persistent state: SQLAlchemy models, Alembic migrations, the store handle."""

from bastion.store.database import Store, StoreError, as_utc

__all__ = ["Store", "StoreError", "as_utc"]
