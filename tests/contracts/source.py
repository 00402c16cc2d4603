"""The contract every Source meets, whatever input it reads.

A Source's test subclasses :class:`SourceContract`, sets ``KIND`` and writes
a readable input and a damaged one; the contract checks what the scan
engines rely on: picklable units (Ray ships them), a fixed order of items
with stable ids, a unit read twice giving the same items, and damaged input
giving error items rather than exceptions.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import ClassVar

from bastion.config import Settings
from bastion.pipeline import ScanItem
from bastion.scan.sources import (
    SourceKind,
    SourceOptions,
    expand_source,
    iter_items,
    iter_units,
    source_for,
    unit_items,
)


class SourceContract:
    #: The Source ``auto`` picks for the inputs this test writes.
    KIND: ClassVar[SourceKind]
    OPTIONS: ClassVar[SourceOptions] = SourceOptions()

    def readable(self, folder: Path) -> str:
        """A SOURCE argument with several items, written under ``folder``."""
        raise NotImplementedError

    def damaged(self, folder: Path) -> str:
        """A SOURCE argument whose input is truncated, garbage or unreadable."""
        raise NotImplementedError

    def _items(self, source: str, settings: Settings) -> list[ScanItem]:
        return list(iter_items([source], self.OPTIONS, settings))

    def test_auto_picks_this_source(self, tmp_path: Path) -> None:
        source = self.readable(tmp_path)
        for name in expand_source(source, self.OPTIONS):
            assert source_for(name, self.OPTIONS, source).kind is self.KIND

    def test_units_are_picklable(self, tmp_path: Path) -> None:
        units = list(iter_units([self.readable(tmp_path)], self.OPTIONS))
        assert units
        assert [pickle.loads(pickle.dumps(unit)) for unit in units] == units

    def test_items_come_in_a_fixed_order_with_stable_ids(self, tmp_path: Path) -> None:
        source = self.readable(tmp_path / "data")
        first = self._items(source, Settings(home=tmp_path / "one"))
        again = self._items(source, Settings(home=tmp_path / "two"))
        ids = [item.item_id for item in first]
        assert len(ids) > 1
        assert len(set(ids)) == len(ids)
        assert [item.item_id for item in again] == ids
        assert not any(item.error for item in first)

    def test_a_unit_read_again_gives_the_same_items(self, tmp_path: Path) -> None:
        settings = Settings(home=tmp_path / "home")
        for unit in iter_units([self.readable(tmp_path / "data")], self.OPTIONS):
            first = list(unit_items(unit, self.OPTIONS, settings))
            assert first
            assert list(unit_items(unit, self.OPTIONS, settings)) == first

    def test_damaged_input_is_an_error_item(self, tmp_path: Path) -> None:
        items = self._items(self.damaged(tmp_path / "data"), Settings(home=tmp_path / "home"))
        assert any(item.error is not None for item in items)
