"""Turn SOURCE arguments into scan items, in a fixed order.

A SOURCE is a file, a directory (walked recursively, sorted), a zip or tar
archive (members read in place), a webdataset shard or a pattern of shards,
or a Parquet file or directory.  The order never changes between runs: a
resumed scan skips exactly the items it already wrote.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bastion.config import Settings
from bastion.fingerprint import ItemError
from bastion.scan.archives import is_archive, iter_archive
from bastion.scan.items import ScanItem
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


def expand_source(source: str, options: SourceOptions) -> list[str]:
    """A shard pattern or glob as the sorted names it stands for; anything else as is."""
    names = expand_shards(source)
    if any(ch in source for ch in "*?["):
        names = sorted(name for pattern in names for name in glob.glob(pattern))
    return names or [source]


def _kind_of(name: str, options: SourceOptions, source: str) -> SourceKind:
    if options.kind is not SourceKind.AUTO:
        return options.kind
    path = Path(name)
    if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        return SourceKind.PARQUET
    if "{" in source and path.suffix == ".tar":
        return SourceKind.WEBDATASET
    return SourceKind.FILES


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


def iter_units(sources: list[str], options: SourceOptions) -> Iterator[Unit]:
    for source in sources:
        for name in expand_source(source, options):
            kind = _kind_of(name, options, source)
            if kind is SourceKind.PARQUET:
                for file in parquet_files(Path(name)):
                    whole = ((str(file), None, None),)
                    groups = splittable_row_groups(file, options.image_column, options.id_column)
                    if groups is None:
                        yield Unit(source, kind, whole)
                    else:
                        yield from (Unit(source, kind, whole, group) for group in range(groups))
                continue
            batch: list[tuple[str, str | None, str | None]] = []
            for entry in iter_files([name]):
                if isinstance(entry, WalkProblem):
                    batch.append((str(entry.path), entry.error.code, entry.error.message))
                else:
                    batch.append((str(entry), None, None))
                if kind is SourceKind.WEBDATASET or len(batch) == FILES_PER_UNIT:
                    yield Unit(source, kind, tuple(batch))
                    batch = []
            if batch:
                yield Unit(source, kind, tuple(batch))


def unit_items(unit: Unit, options: SourceOptions, settings: Settings) -> Iterator[ScanItem]:
    for name, code, message in unit.entries:
        if code is not None:
            yield ScanItem(name, unit.source, error=ItemError(code, message or ""))
        elif unit.kind is SourceKind.PARQUET:
            yield from iter_parquet(
                Path(name),
                unit.source,
                options.image_column,
                options.id_column,
                unit.row_group,
                settings=settings,
            )
        elif unit.kind is SourceKind.WEBDATASET:
            yield from iter_shard(Path(name), unit.source, settings)
        else:
            yield from _file_or_archive(Path(name), unit.source, settings)


def iter_items(
    sources: list[str], options: SourceOptions, settings: Settings
) -> Iterator[ScanItem]:
    """Every item of every source, in order."""
    for unit in iter_units(sources, options):
        yield from unit_items(unit, options, settings)


def _file_or_archive(path: Path, source: str, settings: Settings) -> Iterator[ScanItem]:
    try:
        with path.open("rb") as stream:
            head = stream.read(512)
            if not is_archive(head) or settings.max_archive_depth == 0:
                yield ScanItem(str(path), source, path=path)
                return
            stream.seek(0)
            yield from iter_archive(stream, str(path), source, settings)
    except OSError:
        # Unreadable: the hashing step reports it with the OS's own reason.
        yield ScanItem(str(path), source, path=path)


def count_items(sources: list[str], options: SourceOptions) -> int | None:
    """The number of items when it is cheap to know (Parquet metadata), else None."""
    total = 0
    for source in sources:
        for name in expand_source(source, options):
            if _kind_of(name, options, source) is not SourceKind.PARQUET:
                return None
            total += count_rows(Path(name))
    return total
