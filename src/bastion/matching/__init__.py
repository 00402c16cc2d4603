"""The match index over the banks, and matching signals against it.

``index`` keeps every bank's entries in memory-mapped segments,
``pdq_mih`` is the multi-index that finds near PDQ hashes, ``segment`` one
bank-and-type slice of the index, and ``match`` turns hits into matches.
"""

from bastion.matching.index import Index
from bastion.matching.match import Match, MatchOutcome, match, match_outcome, match_signals

__all__ = ["Index", "Match", "MatchOutcome", "match", "match_outcome", "match_signals"]
