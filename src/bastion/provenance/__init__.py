"""Provenance: what a file's own evidence says about where it came from.

``inspect_bytes`` runs every evidence reader on a file's bytes and assesses
the result; the CLI (``bastion inspect``), scans and the service call it.
"""

from __future__ import annotations

from bastion.config import Settings
from bastion.provenance.c2pa_reader import read_c2pa
from bastion.provenance.evidence import Assessment, Evidence, Origin, Strength, assess

__all__ = ["Assessment", "Evidence", "Origin", "Strength", "assess", "inspect_bytes"]


def inspect_bytes(data: bytes, mime: str | None, settings: Settings) -> Assessment:
    """The assessment of one file's bytes (``mime`` as sniffed, if known)."""
    evidence = read_c2pa(data, mime, settings.trust_anchors)
    return assess(evidence)
