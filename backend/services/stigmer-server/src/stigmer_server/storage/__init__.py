"""Storage of resources through SQLAlchemy (async): SQLite by default, PostgreSQL by URL."""

from stigmer_server.storage._schema import MIGRATIONS, migrate
from stigmer_server.storage._store import Page, Store, Transaction, typed

__all__ = ["MIGRATIONS", "Page", "Store", "Transaction", "migrate", "typed"]
