"""Banks of known hashes: their entries, labels and imports.

The index over them, and matching, are in :mod:`bastion.matching`.
"""

from bastion.banks.bank import Bank, BankError, BankKind, BankNotFound, Banks
from bastion.banks.importer import ImportReport

__all__ = [
    "Bank",
    "BankError",
    "BankKind",
    "BankNotFound",
    "Banks",
    "ImportReport",
]
