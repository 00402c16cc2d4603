"""Persistent state: SQLAlchemy models, Alembic migrations, the store handle."""

from bastion.store.database import Store, StoreError

__all__ = ["Store", "StoreError"]
