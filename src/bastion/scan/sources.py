"""Turn SOURCE arguments into scan items, in a fixed order.

A SOURCE is a file, a directory (walked recursively, sorted), a zip or tar
archive (members read in place), a webdataset shard, a pattern or glob of
shards or a folder of them (img2dataset's output among them), or a Parquet
file or directory.  The order never changes between runs: a resumed scan
skips exactly the items it already wrote.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.config import Settings
from bastion.errors import ItemErrorCode
from bastion.fingerprint import ItemError
from bastion.pipeline import ScanItem
from bastion.scan.archives import expand
from bastion.scan.parquet import (
    count_rows,
    iter_parquet,
    parquet_files,
    splittable_row_groups,
)
from bastion.scan.walk import WalkProblem, iter_files
from bastion.scan.webdataset import expand_shards, iter_shard


class SourceKind(StrEnum):
    AUTO = "auto"
    FILES = "files"
    WEBDATASET = "webdataset"
    PARQUET = "parquet"


@dataclass(frozen=True, slots=True)
class SourceOptions:
    kind: SourceKind = SourceKind.AUTO
    image_column: str = "jpg"
    id_column: str | None = None
    #: Leave out sources that do not exist instead of refusing to start.
    allow_missing: bool = False


def _is_pattern(source: str) -> bool:
    return any(ch in source for ch in "*?[{")


def expand_source(source: str, options: SourceOptions) -> list[str]:
    """A shard pattern or glob as the sorted names it stands for; anything else as is.

    With ``allow_missing``, names that do not exist are left out.
    """
    names = expand_shards(source)
    if any(ch in source for ch in "*?["):
        names = sorted(name for pattern in names for name in glob.glob(pattern))
    names = names or [source]
    if options.allow_missing:
        names = [name for name in names if os.path.lexists(name)]
    return names


def missing_sources(sources: list[str]) -> list[str]:
    """The names SOURCEs stand for that do not exist (a glob matching nothing is one)."""
    everything = SourceOptions()
    return [
        name
        for source in sources
        for name in expand_source(source, everything)
        if not os.path.lexists(name)
    ]


def check_sources(sources: list[str], options: SourceOptions) -> list[str]:
    """What stops the scan before it starts: missing sources and Parquet columns.

    A missing name is refused unless ``allow_missing``; a Parquet file
    without the image or id column is always refused, since every one of its
    rows would be an error.  A file that cannot be opened at all is left to
    the scan, which reports it as an error row.
    """
    problems: list[str] = []
    if not options.allow_missing and (missing := missing_sources(sources)):
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        problems.append(
            f"{len(missing)} source(s) do not exist: {shown} (--allow-missing scans without them)"
        )
    wanted = [c for c in (options.image_column, options.id_column) if c]
    for source in sources:
        for name in expand_source(source, options):
            if (
                not os.path.lexists(name)
                or source_for(name, options, source).kind is not SourceKind.PARQUET
            ):
                continue
            for file in parquet_files(Path(name)):
                try:
                    columns = pq.ParquetFile(file).schema_arrow.names
                except (pa.ArrowException, OSError):
                    continue
                if absent := [c for c in wanted if c not in columns]:
                    problems.append(
                        f"{file} has no column {absent[0]!r} (columns: {', '.join(columns)}); "
                        "choose it with --image-column / --id-column"
                    )
    return problems


#: Shard names: a stem ending in a number (``00000.tar``, ``data-000123.tar``).
_SHARD = re.compile(r".*\d\.tar$")
#: img2dataset writes ``00000.parquet`` and ``00000_stats.json`` beside ``00000.tar``.
_SHARD_METADATA = re.compile(r"(?P<stem>.*?)(_stats\.json|\.parquet|\.json)$")


def _shard_metadata(path: Path) -> bool:
    """Metadata img2dataset writes for a shard (its ``.tar`` is beside it): not images."""
    match = _SHARD_METADATA.fullmatch(path.name)
    return match is not None and path.with_name(f"{match['stem']}.tar").is_file()


def is_shard_folder(path: Path) -> bool:
    """A folder that holds webdataset shards and their metadata only, at least one shard."""
    shards = 0
    for folder, _, names in os.walk(path):
        for name in names:
            file = Path(folder) / name
            if _SHARD.fullmatch(name):
                shards += 1
            elif not _shard_metadata(file):
                return False
    return shards > 0


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work that can run anywhere: a shard, a Parquet row group, or some files.

    ``entries`` are paths, each with the walk problem that stopped it, if any.
    Engines run units in parallel; their rows are put back in unit order.
    """

    source: str
    kind: SourceKind
    entries: tuple[tuple[str, str | None, str | None], ...]
    #: For a Parquet file split by row group: which one.
    row_group: int | None = None


#: Plain files per unit: enough to amortise a task, few enough to balance.
FILES_PER_UNIT = 256


class Source(Protocol):
    """One way of reading a SOURCE name: an extension point.

    Each kind of input (plain files and archives, webdataset shards,
    Parquet) is one Source in :data:`SOURCES`; the contract every one meets
    is tests/contracts/source.py.
    """

    @property
    def kind(self) -> SourceKind: ...

    def claims(self, name: str, source: str) -> bool:
        """Whether ``--source-kind auto`` reads ``name`` (from SOURCE ``source``) this way."""
        ...

    def units(self, name: str, source: str, options: SourceOptions) -> Iterator[Unit]:
        """The units of ``name``, in a fixed order; small and picklable (Ray ships them)."""
        ...

    def items(
        self, unit: Unit, path: Path, options: SourceOptions, settings: Settings
    ) -> Iterator[ScanItem]:
        """The items of one readable entry of ``unit``, in a fixed order; an
        unreadable input becomes an error item, never an exception."""
        ...


def _walk_units(name: str, source: str, shard_kind: SourceKind | None = None) -> Iterator[Unit]:
    """Files under ``name`` in batches; with ``shard_kind``, each shard a unit of its own."""
    batch: list[tuple[str, str | None, str | None]] = []
    given = Path(name)  # a shard named as such, whatever its suffix
    for entry in iter_files([name]):
        if isinstance(entry, WalkProblem):
            batch.append((str(entry.path), entry.error.code, entry.error.message))
        elif shard_kind is not None and _shard_metadata(entry):
            continue  # an img2dataset shard's metadata, not image data
        elif shard_kind is not None and (entry.suffix == ".tar" or entry == given):
            yield Unit(source, shard_kind, ((str(entry), None, None),))
            continue
        else:
            batch.append((str(entry), None, None))
        if len(batch) == FILES_PER_UNIT:
            yield Unit(source, SourceKind.FILES, tuple(batch))
            batch = []
    if batch:
        yield Unit(source, SourceKind.FILES, tuple(batch))


class FilesSource:
    """Files and folders (walked, sorted); zip and tar archives read in place."""

    kind = SourceKind.FILES

    def claims(self, name: str, source: str) -> bool:
        return True

    def units(self, name: str, source: str, options: SourceOptions) -> Iterator[Unit]:
        return _walk_units(name, source)

    def items(
        self, unit: Unit, path: Path, options: SourceOptions, settings: Settings
    ) -> Iterator[ScanItem]:
        return expand(ScanItem(str(path), unit.source, path=path), settings)


class WebdatasetSource:
    """Webdataset shards: a folder of them, or a pattern naming them."""

    kind = SourceKind.WEBDATASET

    def claims(self, name: str, source: str) -> bool:
        path = Path(name)
        if path.is_dir():
            return is_shard_folder(path)
        return _is_pattern(source) and path.suffix == ".tar"

    def units(self, name: str, source: str, options: SourceOptions) -> Iterator[Unit]:
        return _walk_units(name, source, SourceKind.WEBDATASET)

    def items(
        self, unit: Unit, path: Path, options: SourceOptions, settings: Settings
    ) -> Iterator[ScanItem]:
        return iter_shard(path, unit.source, settings)


class ParquetSource:
    """Parquet files, or folders of them: one unit per row group when that is safe."""

    kind = SourceKind.PARQUET

    def claims(self, name: str, source: str) -> bool:
        path = Path(name)
        if path.is_dir():
            return any(path.glob("*.parquet"))
        return path.suffix == ".parquet"

    def units(self, name: str, source: str, options: SourceOptions) -> Iterator[Unit]:
        for file in parquet_files(Path(name)):
            whole = ((str(file), None, None),)
            groups = splittable_row_groups(file, options.image_column, options.id_column)
            if groups is None:
                yield Unit(source, self.kind, whole)
            else:
                yield from (Unit(source, self.kind, whole, group) for group in range(groups))

    def items(
        self, unit: Unit, path: Path, options: SourceOptions, settings: Settings
    ) -> Iterator[ScanItem]:
        return iter_parquet(
            path,
            unit.source,
            options.image_column,
            options.id_column,
            unit.row_group,
            settings=settings,
        )


#: Every Source by kind, in the order ``auto`` tries them: a shard folder
#: may hold Parquet metadata, and anything is a file.
SOURCES: dict[SourceKind, Source] = {
    source.kind: source for source in (WebdatasetSource(), ParquetSource(), FilesSource())
}


def source_for(name: str, options: SourceOptions, source: str) -> Source:
    """The Source reading ``name``: the one asked for, or the first that claims it."""
    if options.kind is not SourceKind.AUTO:
        return SOURCES[options.kind]
    return next(reader for reader in SOURCES.values() if reader.claims(name, source))


def iter_units(sources: list[str], options: SourceOptions) -> Iterator[Unit]:
    for source in sources:
        for name in expand_source(source, options):
            yield from source_for(name, options, source).units(name, source, options)


def unit_items(unit: Unit, options: SourceOptions, settings: Settings) -> Iterator[ScanItem]:
    reader = SOURCES[unit.kind]
    for name, code, message in unit.entries:
        if code is not None:
            yield ScanItem(name, unit.source, error=ItemError(ItemErrorCode(code), message or ""))
        else:
            yield from reader.items(unit, Path(name), options, settings)


def iter_items(
    sources: list[str], options: SourceOptions, settings: Settings
) -> Iterator[ScanItem]:
    """Every item of every source, in order."""
    for unit in iter_units(sources, options):
        yield from unit_items(unit, options, settings)


def count_items(sources: list[str], options: SourceOptions) -> int | None:
    """The number of items when it is cheap to know (Parquet metadata), else None."""
    total = 0
    for source in sources:
        for name in expand_source(source, options):
            if source_for(name, options, source).kind is not SourceKind.PARQUET:
                return None
            total += count_rows(Path(name))
    return total
