"""Banks of known hashes, their index, and matching against them."""

from bastion.banks.bank import Bank, BankError, BankKind, BankNotFound, Banks
from bastion.banks.importer import ImportReport, import_records
from bastion.banks.index import Index
from bastion.banks.match import Match, MatchOutcome, match, match_outcome, match_signals

__all__ = [
    "Bank",
    "BankError",
    "BankKind",
    "BankNotFound",
    "Banks",
    "ImportReport",
    "Index",
    "Match",
    "MatchOutcome",
    "import_records",
    "match",
    "match_outcome",
    "match_signals",
]
