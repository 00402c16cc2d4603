"""Expand files and directories into the files to hash, reporting what can't be.

Every input is accounted for: a path that cannot be walked (missing, a broken
link, an unreadable directory, a symlink loop, a FIFO) comes out as a
:class:`WalkProblem` in order, instead of an exception that stops the run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import ItemErrorCode
from bastion.fingerprint import ItemError


@dataclass(frozen=True, slots=True)
class WalkProblem:
    """A path that yields no file to hash, and why."""

    path: Path
    error: ItemError


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def iter_files(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[Path | WalkProblem]:
    """Yield regular files under ``inputs`` (directories recursively, sorted).

    Directory symlinks are followed, but a directory is entered only once:
    a link back to one of its own ancestors is reported as a loop, a second
    route to an already walked directory as a duplicate.
    """
    visited: dict[tuple[int, int], Path] = {}
    for item in inputs:
        yield from _walk(Path(item), visited, ancestors=())


def _walk(
    path: Path, visited: dict[tuple[int, int], Path], ancestors: tuple[tuple[int, int], ...]
) -> Iterator[Path | WalkProblem]:
    try:
        info = path.stat()
    except FileNotFoundError:
        reason = "broken symbolic link" if path.is_symlink() else "no such file or directory"
        yield WalkProblem(path, ItemError(ItemErrorCode.NOT_FOUND, reason))
        return
    except OSError as exc:
        yield WalkProblem(path, ItemError(ItemErrorCode.UNREADABLE, exc.strerror or str(exc)))
        return

    if stat.S_ISREG(info.st_mode):
        yield path
        return
    if not stat.S_ISDIR(info.st_mode):
        yield WalkProblem(path, ItemError(ItemErrorCode.NOT_A_FILE, _kind_of(info.st_mode)))
        return

    key = (info.st_dev, info.st_ino)
    if key in ancestors:
        first = visited[key]
        yield WalkProblem(
            path,
            ItemError(ItemErrorCode.SYMLINK_LOOP, f"directory symlink loop: leads back to {first}"),
        )
        return
    if key in visited:
        yield WalkProblem(
            path,
            ItemError(ItemErrorCode.DUPLICATE, f"same directory as {visited[key]}, walked once"),
        )
        return
    visited[key] = path
    try:
        with os.scandir(path) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError as exc:
        yield WalkProblem(path, ItemError(ItemErrorCode.UNREADABLE, exc.strerror or str(exc)))
        return
    for name in names:
        yield from _walk(path / name, visited, (*ancestors, key))
