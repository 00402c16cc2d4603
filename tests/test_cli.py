"""``bastion hash``: formats, recursion, one row per input, exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from tests.images import encode, photo_like

runner = CliRunner()


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "collection"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.jpg").write_bytes(encode(photo_like(300, 200, 1), "JPEG"))
    (root / "sub" / "b.png").write_bytes(encode(photo_like(200, 300, 2), "PNG"))
    (root / "sub" / "deeper" / "c.webp").write_bytes(encode(photo_like(250, 250, 3), "WEBP"))
    return root


def rows_of(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_jsonl_recurses_and_exits_zero(collection: Path) -> None:
    result = runner.invoke(app, ["hash", "--format", "jsonl", str(collection)])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [Path(str(r["path"])).name for r in rows] == ["a.jpg", "b.png", "c.webp"]
    for row in rows:
        assert row["status"] == "ok"
        assert len(str(row["pdq"])) == 64
        assert len(str(row["md5"])) == 32
        assert isinstance(row["pdq_quality"], int)


def test_csv_has_header_and_one_row_per_file(collection: Path) -> None:
    result = runner.invoke(app, ["hash", "-f", "csv", "--dihedral", str(collection)])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    assert {"md5", "sha1", "sha256", "pdq", "pdq_quality", "pdq_rotate90"} <= set(rows[0])
    assert all(len(r["pdq_flipminus1"]) == 64 for r in rows)


def test_te_format_is_one_signal_per_line(collection: Path) -> None:
    result = runner.invoke(app, ["hash", "-f", "te", str(collection / "a.jpg")])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["md5", "sha1", "sha256", "pdq"]
    assert all(len(line.split()) == 2 for line in lines)


def test_te_dihedral_adds_seven_pdq_lines(collection: Path) -> None:
    result = runner.invoke(app, ["hash", "-f", "te", "--dihedral", str(collection / "a.jpg")])
    assert sum(line.startswith("pdq ") for line in result.stdout.splitlines()) == 8


def test_table_for_people(collection: Path) -> None:
    # Wide enough that the file name is not folded, whatever the temporary path.
    result = runner.invoke(app, ["hash", str(collection / "a.jpg")], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "pdq" in result.stdout
    assert "a.jpg" in result.stdout


def test_bad_inputs_each_get_a_row_and_the_run_continues(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "good.jpg").write_bytes(encode(photo_like(300, 200), "JPEG"))
    (root / "empty.jpg").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(encode(photo_like(600, 400), "JPEG")[:3000])
    png = bytearray(encode(photo_like(100, 100), "PNG"))
    png[29] ^= 0xFF
    (root / "corrupt.png").write_bytes(bytes(png))
    (root / "notes.jpg").write_text("plain words\n")
    (root / "loop").mkdir()
    (root / "loop" / "back").symlink_to(root)
    os.mkfifo(root / "pipe")
    (root / "dangling").symlink_to(tmp_path / "missing")
    result = runner.invoke(app, ["hash", "-f", "jsonl", str(root)])
    assert result.exit_code == 1
    by_name = {Path(str(r["path"])).name: r for r in rows_of(result.stdout)}
    expected = {
        "good.jpg": None,
        "empty.jpg": "empty",
        "truncated.jpg": "truncated",
        "corrupt.png": "corrupt",
        "notes.jpg": "not-an-image",
        "back": "symlink-loop",
        "pipe": "not-a-file",
        "dangling": "not-found",
    }
    assert {name: row["error_code"] for name, row in by_name.items()} == expected
    assert by_name["good.jpg"]["status"] == "ok"
    assert all(by_name[n]["error"] for n in expected if expected[n])
    # Readable bad files still carry their crypto digests.
    assert by_name["truncated.jpg"]["md5"]


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs util-linux setpriv")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(encode(photo_like(100, 100), "PNG"))
    locked = tmp_path / "locked.png"
    locked.write_bytes(encode(photo_like(100, 100), "PNG"))
    locked.chmod(0)
    # Root reads anything: drop the capabilities that let it, so the
    # permission check applies as it would to any other user.
    command = [sys.executable, "-m", "bastion", "hash", "-f", "jsonl", str(tmp_path)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    by_name = {Path(str(r["path"])).name: r for r in rows_of(done.stdout)}
    assert by_name["ok.png"]["status"] == "ok"
    assert by_name["locked.png"]["error_code"] == "unreadable"
    assert "Permission denied" in str(by_name["locked.png"]["error"])


def test_bad_configuration_is_a_clear_error(collection: Path) -> None:
    result = runner.invoke(app, ["hash", str(collection)], env={"BASTION_MAX_PIXELS": "lots"})
    assert result.exit_code == 2
    assert "BASTION_MAX_PIXELS" in result.stderr


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("bastion ")


def test_demo_scans_a_generated_collection_against_a_demo_bank(tmp_path: Path) -> None:
    for _ in range(2):  # running it again starts afresh
        result = runner.invoke(app, ["demo", str(tmp_path / "demo")], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "demo" / "scan" / "summary.json").read_text())
    assert summary["seen"] == 12
    assert summary["seen"] == summary["hashed"] + summary["errored"] + summary["skipped"]
    removal = (tmp_path / "demo" / "scan" / "removal-list.txt").read_text().splitlines()
    names = {Path(item.split("!")[-1]).name for item in removal}
    assert {"original-1.jpg", "original-2.jpg", "original-1-q40.jpg", "IMG_0001.jpg"} <= names
    assert "original-3.jpg" not in names
    assert "truncated" in result.stdout
