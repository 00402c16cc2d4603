"""Who may do what: the fixed roles, what each is granted, and who a request acts for.

Roles are nested by what they may do, not by rank:

- ``client``: a platform's software; hashes, matches and scans uploads
  (and may queue them) but never reads the review queue;
- ``reviewer``: a person who claims, views and decides queued items;
- ``curator``: a reviewer who also manages banks and legal holds;
- ``admin``: everything, including users, keys and the audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bastion.errors import BastionError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


class Role(StrEnum):
    CLIENT = "client"
    REVIEWER = "reviewer"
    CURATOR = "curator"
    ADMIN = "admin"


class Permission(StrEnum):
    MATCH = "match"  #: hash, match, scan uploads; read index status
    QUEUE = "queue"  #: put scanned uploads in the review queue
    REVIEW = "review"  #: claim, view, reveal and decide queued items
    READ_BANKS = "read-banks"
    MANAGE_BANKS = "manage-banks"
    HOLD = "hold"  #: legal holds; escalated items
    ADMIN = "admin"  #: users, keys, audit log


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.CLIENT: frozenset({Permission.MATCH, Permission.QUEUE, Permission.READ_BANKS}),
    Role.REVIEWER: frozenset({Permission.MATCH, Permission.REVIEW}),
    Role.CURATOR: frozenset(
        {
            Permission.MATCH,
            Permission.QUEUE,
            Permission.REVIEW,
            Permission.READ_BANKS,
            Permission.MANAGE_BANKS,
            Permission.HOLD,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


class AccountError(BastionError, ValueError):
    """A user or key operation that cannot be done as asked."""

    code = "account-error"
    status = 400


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request acts for: a logged-in user or an API key."""

    kind: str  #: "user" or "key"
    id: int
    name: str
    role: Role
    #: The login session's id (users in the UI), for the reveal counter.
    session_id: int | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.name}"

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


def parse_role(text: str) -> Role:
    """The role a user or key is given by name; an unknown one is the caller's error."""
    try:
        return Role(text)
    except ValueError:
        raise AccountError(
            f"unknown role {text!r} (expected one of {', '.join(r.value for r in Role)})"
        ) from None


def checked_name(text: str) -> str:
    """A user's or key's name, if it is one the audit log and URLs can carry as is."""
    if not _NAME.fullmatch(text):
        raise AccountError(
            f"invalid name {text!r}: 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return text
