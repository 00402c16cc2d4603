"""``bank add`` and ``inspect`` take folders and name missing files; ``match --bank`` filters."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.cli.conftest import Invoke
from tests.images import encode, photo_like


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(encode(photo_like(300, 200, 11), "JPEG"))
    (root / "sub" / "b.png").write_bytes(encode(photo_like(200, 300, 12), "PNG"))
    return root


def test_bank_add_names_a_missing_file(bastion: Invoke, tmp_path: Path) -> None:
    assert bastion("bank", "create", "known").exit_code == 0
    missing = bastion("bank", "add", "known", "missing.jpg")
    assert missing.exit_code == 2
    assert "no such file: missing.jpg" in missing.stderr
    assert "Traceback" not in missing.output
    # Nothing is added when one of several targets is missing.
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(photo_like(300, 200, 13), "JPEG"))
    partly = bastion("bank", "add", "known", str(photo), str(tmp_path / "gone" / "x.png"))
    assert partly.exit_code == 2
    assert f"no such file: {tmp_path / 'gone' / 'x.png'}" in partly.stderr
    assert json.loads(bastion("bank", "show", "known", "--json").stdout)["active"] == 0
    # A hash with a known type is still a hash, and a bad one says why.
    assert "32 hex digits" in bastion("bank", "add", "known", "md5:abc").stderr


def test_bank_add_walks_folders(bastion: Invoke, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "folder")
    assert bastion("bank", "create", "known").exit_code == 0
    added = bastion("bank", "add", "known", str(folder))
    assert added.exit_code == 0, added.output
    assert "8 added" in added.stderr  # md5, sha1, sha256 and pdq of two files
    matched = bastion("match", "-f", "jsonl", str(folder))
    assert matched.exit_code == 0, matched.output
    rows = [json.loads(line) for line in matched.stdout.splitlines()]
    assert len(rows) == 2
    assert all(len(row["matches"]) == 4 for row in rows)


def test_bank_add_exits_1_when_part_of_a_folder_is_not_used(
    bastion: Invoke, tmp_path: Path
) -> None:
    """A file whose hashes could not all be banked is said and makes the status 1."""
    folder = _folder(tmp_path / "folder")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    flat = Image.new("RGB", (64, 64), (90, 90, 90))
    (folder / "flat.png").write_bytes(encode(flat, "PNG"))
    assert bastion("bank", "create", "known").exit_code == 0
    added = bastion("bank", "add", "known", str(folder))
    assert added.exit_code == 1, added.output
    stderr = " ".join(added.stderr.split())
    assert "broken.jpg" in stderr
    assert "not using the PDQ of" in stderr
    assert "flat.png" in stderr


def test_match_bank_filters(bastion: Invoke, known: Path) -> None:
    assert bastion("bank", "create", "other").exit_code == 0
    assert bastion("bank", "add", "other", str(known)).exit_code == 0
    every = bastion("match", "-f", "jsonl", str(known))
    assert {m["bank"] for m in json.loads(every.stdout)["matches"]} == {"known", "other"}
    only = bastion("match", "-f", "jsonl", "--bank", "other", str(known))
    assert only.exit_code == 0, only.output
    assert {m["bank"] for m in json.loads(only.stdout)["matches"]} == {"other"}
    unknown = bastion("match", "--bank", "nope", str(known))
    assert unknown.exit_code == 2
    assert "no bank named 'nope'" in unknown.stderr


def test_inspect_walks_folders(bastion: Invoke, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "folder")
    result = bastion("inspect", "--json", str(folder))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(row["path"]).name for row in rows] == ["a.jpg", "b.png"]
    assert {row["level"] for row in rows} == {"no provenance evidence"}
    missing = bastion("inspect", str(folder), str(tmp_path / "nope.jpg"))
    assert missing.exit_code == 2
    assert f"no such file: {tmp_path / 'nope.jpg'}" in missing.stderr
    assert missing.stdout == ""
