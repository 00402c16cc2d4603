"""ThreatExchange / Hasher-Matcher-Actioner text format: ``<signal type> <value>``.

One signal per line, the way ``threatexchange hash`` prints and HMA imports
them, so Bastion output can be piped straight into Meta's tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bastion.fingerprint import Signal


def format_signals(signals: Iterable[Signal]) -> Iterator[str]:
    """Lines ``"pdq <hex>"``, ``"md5 <hex>"`` ... without trailing newlines."""
    for signal in signals:
        yield f"{signal.type} {signal.value}"
