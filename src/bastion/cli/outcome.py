"""Exit codes every command shares, and the refusal to match against nothing.

The exit status is the one signal a script checks, so it must never say
"all checked" when something was not:

====  ==========================================================
code  meaning
====  ==========================================================
0     every item was checked
1     the run finished, but some items could not be checked fully
      (unreadable, skipped, low-quality PDQ, allowlist-suppressed
      match); the summary counts them by reason
2     nothing was run: a usage error, a missing source or column,
      or no non-empty blocklist to match against
====  ==========================================================

``scan``, ``match``, ``hash`` and ``bank import`` all use this table
(the table in docs/exit-codes.md).
"""

from __future__ import annotations

from enum import IntEnum

import typer

from bastion.banks.bank import BankKind
from bastion.cli.common import fail
from bastion.config import Settings
from bastion.matching.index import Index


class ExitCode(IntEnum):
    CHECKED = 0  #: every item was checked
    INCOMPLETE = 1  #: finished; some items could not be checked (counted by reason)
    NOT_RUN = 2  #: nothing was run


def exit_for(unchecked: int) -> None:
    """End a finished run: status 1 when any item was not checked, else return."""
    if unchecked:
        raise typer.Exit(ExitCode.INCOMPLETE)


def require_blocklist(index: Index, settings: Settings, *, no_banks: bool) -> None:
    """Refuse to match against no blocklist entries at all, unless asked to.

    An empty store (a wrong ``BASTION_HOME``, a bank never imported) would
    otherwise make every item look checked and clean.
    """
    if no_banks:
        return
    counts = index.entry_counts()
    if any(
        counts.get(bank_id, 0) > 0
        for bank_id, bank in index.banks.items()
        if bank.kind is BankKind.BLOCKLIST
    ):
        return
    where = settings.database_url or settings.home
    raise fail(
        f"no blocklist with any entries in the store ({where}, BASTION_HOME={settings.home}); "
        "import a hash list with `bastion bank import`, point BASTION_HOME at the right "
        "store, or pass --no-banks to hash without matching",
        ExitCode.NOT_RUN,
    )
