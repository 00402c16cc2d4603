"""Who may do what: roles (``roles``), users (``users``), API keys (``keys``)
and login sessions (``sessions``), each audited.

``Accounts`` is the one handle the service and CLI hold on a store: the
users, keys and sessions parts over it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bastion.accounts.keys import ApiKeys
from bastion.accounts.roles import AccountError, Permission, Principal, Role
from bastion.accounts.sessions import Sessions
from bastion.accounts.users import Users
from bastion.store import Store

__all__ = ["AccountError", "Accounts", "Permission", "Principal", "Role"]


class Accounts(Users, ApiKeys, Sessions):
    """Users, keys and login sessions on one store; every change is audited."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._failures = {}
        self._failures_lock = threading.Lock()
