"""``bastion scan`` exit codes and summary: what was not checked is counted and said.

0: every item checked; 1: finished, some items not checked (counted by
reason); 2: nothing ran.  See docs/exit-codes.md.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.hashing import hash_bytes
from bastion.scan.results import unescape_id
from tests.conftest import SHARED
from tests.scan.fixtures import jpeg, write_parquet, write_shards

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)
    return tmp_path / "home"


def bank(*targets: str, name: str = "known", allowlist: bool = False) -> None:
    created = runner.invoke(app, ["bank", "create", name, *(["--allowlist"] if allowlist else [])])
    assert created.exit_code == 0, created.output
    added = runner.invoke(app, ["bank", "add", name, *targets])
    assert added.exit_code == 0, added.output


def md5(data: bytes) -> str:
    return f"md5:{hash_bytes(data).md5}"


def test_an_empty_store_is_refused_unless_no_banks(tmp_path: Path, home: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    refused = runner.invoke(app, ["scan", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o")])
    assert refused.exit_code == 2
    assert f"BASTION_HOME={home}" in " ".join(refused.stderr.split())
    assert not (tmp_path / "o").exists()
    args = ["scan", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o2"), "--no-banks"]
    hashed = runner.invoke(app, args)
    assert hashed.exit_code == 0, hashed.output
    assert json.loads(hashed.stdout)["banks"] == {}


def test_missing_shards_are_listed_or_left_out_on_request(tmp_path: Path) -> None:
    bank(md5(b"nothing here"))
    write_shards(tmp_path / "shards", samples=4, per_shard=2)  # shards 0 and 1
    pattern = str(tmp_path / "shards" / "data-{000000..000003}.tar")
    refused = runner.invoke(app, ["scan", pattern, "--out", str(tmp_path / "o")])
    assert refused.exit_code == 2
    message = " ".join(refused.stderr.split())
    assert "2 source(s) do not exist" in message
    assert "data-000002.tar, " in message
    assert "data-000003.tar " in message
    assert "data-000001.tar," not in message
    args = ["scan", pattern, "--out", str(tmp_path / "o2"), "--allow-missing"]
    partial = runner.invoke(app, args)
    assert partial.exit_code == 1, partial.output
    summary = json.loads(partial.stdout)
    assert summary["seen"] == summary["hashed"] == 4
    assert [Path(name).name for name in summary["missing_sources"]] == [
        "data-000002.tar",
        "data-000003.tar",
    ]


def test_a_missing_parquet_column_runs_nothing(tmp_path: Path) -> None:
    bank(md5(b"nothing here"))
    data = write_parquet(tmp_path / "d.parquet", [jpeg(1)], ["a"])
    result = runner.invoke(
        app, ["scan", str(data), "--out", str(tmp_path / "o"), "--image-column", "image"]
    )
    assert result.exit_code == 2
    assert "no column 'image'" in " ".join(result.stderr.split())


def test_unreadable_items_give_status_1(tmp_path: Path) -> None:
    bank(md5(b"nothing here"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(jpeg(1))
    (tmp_path / "in" / "cut.jpg").write_bytes(jpeg(2)[:200])
    result = runner.invoke(app, ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["errored"], summary["unchecked"]) == (1, 1)


def test_allowlist_suppressed_matches_are_counted(tmp_path: Path) -> None:
    image = jpeg(5)
    bank(md5(image))
    bank(md5(image), name="false-positives", allowlist=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jpg").write_bytes(image)
    (tmp_path / "in" / "y.jpg").write_bytes(jpeg(6))
    out = tmp_path / "o"
    result = runner.invoke(app, ["scan", str(tmp_path / "in"), "--out", str(out)])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["matched"], summary["suppressed_matches"], summary["unchecked"]) == (0, 1, 1)
    assert "matches suppressed by allowlists: 1" in result.stderr
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert [len(row["suppressed"]) for row in rows] == [1, 0]


def test_items_and_matches_are_counted_apart(tmp_path: Path) -> None:
    image = jpeg(5)
    (tmp_path / "banked.jpg").write_bytes(image)
    bank(str(tmp_path / "banked.jpg"))  # md5, sha1, sha256 and pdq of one image
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jpg").write_bytes(image)
    result = runner.invoke(app, ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["matched"] == 1
    assert summary["matches"] == sum(summary["matches_by_signal"].values()) >= 1
    assert set(summary["matches_by_signal"]) <= {"md5", "sha1", "sha256", "pdq"}


def test_dihedral_finds_rotated_and_flipped_copies(tmp_path: Path) -> None:
    folder = SHARED / "testdata" / "pdq" / "reg-test-input" / "dih"
    bank(str(folder / "bridge-1-original.jpg"))
    turned = sorted(
        str(path) for path in folder.glob("bridge-*.jpg") if "original" not in path.name
    )
    assert len(turned) == 7
    plain = runner.invoke(app, ["scan", *turned, "--out", str(tmp_path / "o1")])
    assert json.loads(plain.stdout)["matched"] < 7
    found = runner.invoke(app, ["scan", *turned, "--out", str(tmp_path / "o2"), "--dihedral"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["matched"] == 7


def test_ids_in_the_removal_list_are_escaped_and_bad_ids_refused(tmp_path: Path) -> None:
    images = [jpeg(n) for n in range(6)]
    bank(*(md5(image) for image in images))
    ids = ["plain", "line\nbreak", "back\\slash\r", None, "plain", "last"]
    data = write_parquet(tmp_path / "d.parquet", list(images), ids)  # type: ignore[arg-type]
    out = tmp_path / "o"
    result = runner.invoke(app, ["scan", str(data), "--out", str(out), "--id-column", "key"])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["errors_by_reason"] == {"null-id": 1, "duplicate-id": 1}
    lines = (out / "removal-list.txt").read_text().split("\n")[:-1]
    assert lines[1] == f"{data}#line\\nbreak"
    assert [unescape_id(line).split("#", 1)[1] for line in lines] == [
        "plain",
        "line\nbreak",
        "back\\slash\r",
        "last",  # the repeated "plain" is one line; the row without an id is not hashed
    ]
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert (rows[3]["error_code"], rows[3]["position"]) == ("null-id", 3)
    assert (rows[4]["error_code"], rows[4]["error"]) == ("duplicate-id", "id also names row 0")


def test_ctrl_c_says_how_far_and_how_to_resume(tmp_path: Path) -> None:
    pattern = write_shards(tmp_path / "shards", samples=300, per_shard=20)
    out = tmp_path / "out"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    bastion = [sys.executable, "-m", "bastion"]
    command = [*bastion, "scan", pattern, "--out", str(out), "--no-banks", "--workers", "2"]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((out / "parts").glob("*.done")):
        assert process.poll() is None, "the scan ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 130, errors
    assert "Traceback" not in errors
    assert "items are scanned and kept" in errors
    resume = shlex.split(errors.strip().splitlines()[-1])
    assert (resume[0], resume[-1]) == ("bastion", "--resume")
    finished = subprocess.run(
        [*bastion, *resume[1:]], env=environment, capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert [row["item_id"].rsplit("#", 1)[1] for row in rows] == [
        f"{n:06d}.jpg" for n in range(300)
    ]


def test_an_unwritable_out_is_one_line_before_any_work(tmp_path: Path) -> None:
    """An --out that cannot be created is refused at the start (status 2), not after the scan."""
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    args = ["scan", str(tmp_path / "a.jpg"), "--out", str(blocked / "scan"), "--no-banks"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "cannot write --out" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
