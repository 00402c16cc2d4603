"""Small builders shared by the bank tests."""

from __future__ import annotations

import io
import random

from bastion.banks import Banks, ImportReport
from bastion.formats import get_format
from bastion.store import Store


def import_text(
    store: Store,
    bank: str,
    fmt: str,
    document: str,
    *,
    dry_run: bool = False,
    source: str | None = None,
    replace_labels: bool = False,
) -> ImportReport:
    items = get_format(fmt).read(io.BytesIO(document.encode()))
    return Banks(store, actor="test").import_records(
        bank,
        items,
        source=source or f"test.{fmt}",
        format=fmt,
        dry_run=dry_run,
        replace_labels=replace_labels,
    )


def flip_bits(hex_hash: str, count: int) -> str:
    """``hex_hash`` with its first ``count`` bits inverted: distance ``count``."""
    value = int(hex_hash, 16) ^ (((1 << count) - 1) << (256 - count))
    return f"{value:064x}"


def random_md5s(count: int, *, seed: int) -> list[str]:
    """``count`` distinct random MD5 values (a hash list of nothing)."""
    generator = random.Random(seed)
    return [f"{generator.getrandbits(128):032x}" for _ in range(count)]
