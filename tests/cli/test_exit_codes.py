"""``hash`` and ``match`` exit 0 when every item was checked, 1 when some were not
(counted by reason on stderr), 2 when nothing ran (docs/exit-codes.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli.conftest import Invoke
from tests.images import encode

FLAT = Image.new("RGB", (200, 200), (128, 128, 128))


@pytest.fixture
def mixed(tmp_path: Path, photo: Path) -> Path:
    """A good photo, a flat image (low-quality PDQ) and a corrupt file."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "good.jpg").write_bytes(photo.read_bytes())
    (root / "flat.png").write_bytes(encode(FLAT, "PNG"))
    (root / "notes.jpg").write_text("plain words\n")
    return root


def test_hash_all_checked_is_zero(bastion: Invoke, photo: Path) -> None:
    assert bastion("hash", str(photo)).exit_code == 0


def test_hash_counts_unchecked_items_by_reason(bastion: Invoke, mixed: Path) -> None:
    result = bastion("hash", "-f", "jsonl", str(mixed))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 3
    assert "2 of 3 inputs not checked fully" in result.stderr
    assert "not-an-image: 1" in result.stderr
    assert "low-quality PDQ: 1" in result.stderr


def test_hash_missing_path_runs_nothing(bastion: Invoke, photo: Path, tmp_path: Path) -> None:
    result = bastion("hash", "-f", "jsonl", str(photo), str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"no such file: {tmp_path / 'a'}, {tmp_path / 'b'}" in result.stderr


def test_match_refuses_an_empty_store(bastion: Invoke, photo: Path, home: Path) -> None:
    empty = bastion("match", str(photo))
    assert empty.exit_code == 2
    assert f"BASTION_HOME={home}" in empty.stderr
    assert empty.stdout == ""
    assert bastion("bank", "create", "known").exit_code == 0
    assert bastion("match", str(photo)).exit_code == 2  # a bank, but no entries
    unbanked = bastion("match", "--no-banks", "-f", "jsonl", str(photo))
    assert unbanked.exit_code == 0, unbanked.output
    assert json.loads(unbanked.stdout)["matches"] == []


def test_match_counts_unchecked_items_by_reason(bastion: Invoke, known: Path, mixed: Path) -> None:
    result = bastion("match", "-f", "jsonl", str(mixed))
    assert result.exit_code == 1
    assert "2 of 3 inputs not checked fully" in result.stderr
    assert "not-an-image: 1" in result.stderr
    assert "low-quality PDQ: 1" in result.stderr
    flat = str(mixed / "flat.png")
    assert bastion("match", "--include-low-quality", flat).exit_code == 0


def test_match_counts_allowlist_suppressed_items(bastion: Invoke, known: Path) -> None:
    assert bastion("match", str(known)).exit_code == 0
    assert bastion("bank", "create", "fine", "--allowlist").exit_code == 0
    assert bastion("bank", "add", "fine", str(known)).exit_code == 0
    result = bastion("match", "-f", "jsonl", str(known))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["matches"] == []
    assert "1 of 1 inputs not checked fully" in result.stderr
    assert "match suppressed by an allowlist: 1" in result.stderr


def test_match_missing_path_runs_nothing(bastion: Invoke, known: Path, tmp_path: Path) -> None:
    result = bastion("match", str(known), str(tmp_path / "nope.jpg"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no such file" in result.stderr


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A path under a regular file: nothing can be written there, even by root."""
    wall = tmp_path / "wall"
    wall.write_text("a file, not a folder\n")
    return wall / "sub"


def _one_line_error(result_stderr: str, *words: str) -> None:
    assert "Traceback" not in result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    assert lines[0].startswith("error: ")
    assert all(word in lines[0] for word in words), lines[0]


def test_unwritable_output_is_one_line(
    bastion: Invoke, known: Path, blocked: Path, tmp_path: Path
) -> None:
    for command in ("hash", "match"):
        result = bastion(command, "-o", str(blocked / "out.jsonl"), str(known))
        assert result.exit_code == 2, result.output
        _one_line_error(result.stderr, "-o", str(blocked / "out.jsonl"))
    written = bastion("hash", "-f", "jsonl", "-o", str(tmp_path / "out.jsonl"), str(known))
    assert written.exit_code == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["status"] == "ok"
    exported = bastion("bank", "export", "known", "-o", str(blocked / "list.csv"))
    assert exported.exit_code == 2
    _one_line_error(exported.stderr, str(blocked / "list.csv"))
    listing = tmp_path / "list.csv"
    listing.write_text(bastion("bank", "export", "known").stdout)
    rejects = bastion("bank", "import", "known", str(listing), "--rejects", str(blocked / "r.csv"))
    assert rejects.exit_code == 2
    assert "Traceback" not in rejects.output
    assert str(blocked / "r.csv") in rejects.stderr


def test_unwritable_home_is_one_line(
    bastion: Invoke, photo: Path, blocked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_HOME", str(blocked))
    for args in (("bank", "list"), ("match", str(photo)), ("inspect", "--match", str(photo))):
        result = bastion(*args)
        assert result.exit_code == 2, result.output
        _one_line_error(result.stderr, f"BASTION_HOME={blocked}")
