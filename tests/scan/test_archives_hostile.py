"""Hostile archives: every member a row, compressed tars under the zip limits, memory bounded."""

from __future__ import annotations

import random
import tarfile
from pathlib import Path

import pytest

from bastion.config import Settings
from bastion.pipeline import ScanItem
from bastion.scan.sources import SourceOptions, iter_items
from tests.scan.fixtures import jpeg, write_tar
from tests.scan.hostile_archives import shared_entry_zip, special_members_tar, zeros_tar
from tests.scan.measure import scan_in_fresh_process


def items_of(path: Path, settings: Settings | None = None) -> dict[str, ScanItem]:
    found = iter_items([str(path)], SourceOptions(), settings or Settings(home=path.parent))
    return {item.item_id.split("!", 1)[1]: item for item in found}


def test_every_tar_member_gets_a_row(tmp_path: Path) -> None:
    files = [(f"f{n}.jpg", jpeg(n, (32, 24))) for n in range(9)]
    items = items_of(special_members_tar(tmp_path / "t.tar", files))
    assert len(items) == 14  # 9 files and 5 special members; the directory holds nothing
    assert all(items[name].data == data for name, data in files)
    skipped = {name: item.skipped for name, item in items.items() if item.skipped}
    assert skipped == {
        "link-to-first": "link",
        "hard-link": "link",
        "pipe": "special-file",
        "tty": "special-file",
        "disk": "special-file",
    }


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_tar_member_over_the_ratio_is_a_bomb(tmp_path: Path, mode: str) -> None:
    after = (("after.jpg", jpeg(1)),)
    path = zeros_tar(tmp_path / "z.tar", 20 << 20, mode, after=after)
    items = items_of(path)
    assert items["zeros.bin"].error is not None
    assert items["zeros.bin"].error.code == "archive-bomb"
    assert items["after.jpg"].data == after[0][1]  # the archive goes on after the bomb


def test_compressed_tar_members_share_the_archive_total(tmp_path: Path) -> None:
    members = [(f"{n}.jpg", jpeg(n)) for n in range(3)]
    path = write_tar(tmp_path / "t.tar.gz", members, mode="w:gz")
    total = len(members[0][1]) + len(members[1][1])
    items = items_of(path, Settings(home=tmp_path, max_archive_bytes=total))
    assert [items[name].data is not None for name, _ in members] == [True, True, False]
    assert items["2.jpg"].error is not None
    assert items["2.jpg"].error.code == "archive-bomb"


def test_tar_member_declaring_more_than_the_limit_is_not_read(tmp_path: Path) -> None:
    small = jpeg(2, (32, 24))
    path = write_tar(tmp_path / "t.tar", [("big.jpg", jpeg(1, (400, 300))), ("ok.jpg", small)])
    items = items_of(path, Settings(home=tmp_path, max_file_bytes=len(small)))
    assert items["big.jpg"].error is not None
    assert "declares" in items["big.jpg"].error.message
    assert items["ok.jpg"].data == small


def test_zip_entries_sharing_one_local_entry_are_refused(tmp_path: Path) -> None:
    data = jpeg(3)
    items = items_of(shared_entry_zip(tmp_path / "s.zip", data, entries=3))
    assert items["shared.bin"].data == data
    for name in ("shared.bin#2", "shared.bin#3"):
        error = items[name].error
        assert error is not None
        assert error.code == "archive-bomb"
        assert "shares its data with 'shared.bin'" in error.message


def _codes(result: dict[str, object]) -> dict[str, object]:
    rows = result["rows"]
    assert isinstance(rows, list)
    return {row["item_id"].split("!", 1)[-1]: row["error_code"] for row in rows}


@pytest.mark.slow  # compressing a gigabyte of zeros takes most of half a minute
def test_tar_gz_with_a_1_gib_member_stays_under_500_mb(tmp_path: Path) -> None:
    path = zeros_tar(tmp_path / "bomb.tar.gz", 1 << 30, "w:gz", after=(("a.jpg", jpeg(4)),))
    assert path.stat().st_size < 1_200_000
    result = scan_in_fresh_process(path, tmp_path / "out")
    assert _codes(result) == {"zeros.bin": "archive-bomb", "a.jpg": None}
    assert result["peak_mb"] < 500, result["peak_mb"]


def test_zip_of_40_entries_sharing_64_mib_stays_under_500_mb(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(64 << 20)
    path = shared_entry_zip(tmp_path / "shared.zip", data, entries=40)
    del data
    result = scan_in_fresh_process(path, tmp_path / "out")
    codes = _codes(result)
    assert len(codes) == 40
    assert codes.pop("shared.bin") is None
    assert set(codes.values()) == {"archive-bomb"}
    assert result["peak_mb"] < 500, result["peak_mb"]


def test_an_unforeseen_exception_ends_the_archive_with_an_internal_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tar(tmp_path / "t.tar", [("a.jpg", jpeg(1)), ("b.jpg", jpeg(2))])
    real = tarfile.TarFile.extractfile

    def second_fails(archive: tarfile.TarFile, info: tarfile.TarInfo) -> object:
        if info.name == "b.jpg":
            raise KeyError("made up")
        return real(archive, info)

    monkeypatch.setattr(tarfile.TarFile, "extractfile", second_fails)
    items = items_of(path)
    assert items["a.jpg"].data == jpeg(1)
    assert items[""].error is not None
    assert items[""].error.code == "internal"
    assert "KeyError" in items[""].error.message


def test_encrypted_zip_member_is_an_error_row(tmp_path: Path) -> None:
    found = Path(__file__).parents[1] / "fuzz/corpus/archive/zip-encrypted-member.zip"
    path = tmp_path / "e.zip"
    path.write_bytes(found.read_bytes())
    error = items_of(path)["a.txt"].error
    assert error is not None
    assert error.code == "encrypted"
