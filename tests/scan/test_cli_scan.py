"""``bastion scan`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from tests.scan.fixtures import jpeg, write_parquet

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)


def test_scan_parquet_with_bank_and_jsonl(tmp_path: Path) -> None:
    images: list[bytes | None] = [jpeg(n) for n in range(6)]
    data = write_parquet(tmp_path / "d.parquet", images, [f"id{n}" for n in range(6)])
    (tmp_path / "known.jpg").write_bytes(images[4] or b"")
    assert runner.invoke(app, ["bank", "create", "known"]).exit_code == 0
    assert runner.invoke(app, ["bank", "add", "known", str(tmp_path / "known.jpg")]).exit_code == 0
    out = tmp_path / "out"
    args = ["scan", str(data), "--out", str(out), "--id-column", "key", "--jsonl", "--workers", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["seen"], summary["matched"]) == (6, 1)
    assert (out / "removal-list.txt").read_text() == f"{data}#id4\n"
    assert len((out / "results.jsonl").read_text().splitlines()) == 6
    again = runner.invoke(app, [*args, "--resume"])
    assert json.loads(again.stdout) == summary
    clobber = runner.invoke(app, args)
    assert clobber.exit_code == 2
    assert "already holds a finished scan" in " ".join(clobber.stderr.split())


def test_unknown_bank_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    result = runner.invoke(
        app, ["scan", str(tmp_path), "--out", str(tmp_path / "o"), "--bank", "x"]
    )
    assert result.exit_code == 2
    assert "no bank named 'x'" in result.stderr


def test_unreachable_ray_cluster_fails_fast(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the Ray engine needs the [ray] extra")
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    args = ["scan", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o"), "--no-banks"]
    args += ["--engine", "ray"]
    result = runner.invoke(app, [*args, "--ray-address", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in " ".join(result.stderr.split())


def test_scan_rows_carry_provenance_and_metadata_named_models_match(tmp_path: Path) -> None:
    from tests.conftest import SHARED
    from tests.provenance.files import png

    folder = tmp_path / "in"
    folder.mkdir()
    model_hash = "c" * 64
    params = f'alpha\nSteps: 20, Seed: 1, Model: base, Lora hashes: "tweak: {model_hash[:10]}"'
    (folder / "generated.png").write_bytes(png({"parameters": params}))
    (folder / "plain.jpg").write_bytes(jpeg(3))
    signed = SHARED / "testdata" / "c2pa" / "C_with_CAWG_data.jpg"
    (folder / "signed.jpg").write_bytes(signed.read_bytes())
    assert runner.invoke(app, ["bank", "create", "models"]).exit_code == 0
    added = runner.invoke(app, ["bank", "add", "models", f"model_sha256:{model_hash}"])
    assert added.exit_code == 0, added.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["scan", str(folder), "--out", str(out), "--jsonl"])
    # The generated PNG and the signed test photo are too flat for PDQ: not
    # fully checked, so the scan says so (status 1) and counts them.
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["low_quality"] == 2
    rows = {
        Path(row["item_id"]).name: row
        for row in map(json.loads, (out / "results.jsonl").read_text().splitlines())
    }
    assert rows["generated.png"]["provenance"] == "ai-generated — declared"
    evidence = json.loads(rows["generated.png"]["provenance_evidence"])
    assert evidence[0]["detail"]["withheld"] == ["prompt"]
    assert [m["bank"] for m in rows["generated.png"]["matches"]] == ["models"]
    assert rows["plain.jpg"]["provenance"] == "no provenance evidence"
    assert [rows[name]["low_quality"] for name in sorted(rows)] == [True, False, True]
    assert rows["signed.jpg"]["provenance"] == "camera capture — signed by an untrusted signer", (
        rows["signed.jpg"]["provenance_evidence"]
    )
    summary = json.loads(result.stdout)
    assert summary["provenance"] == {
        "ai-generated — declared": 1,
        "camera capture — signed by an untrusted signer": 1,
        "no provenance evidence": 1,
    }
    assert (out / "removal-list.txt").read_text().strip().endswith("generated.png")

    skipped = runner.invoke(
        app, ["scan", str(folder), "--out", str(tmp_path / "o2"), "--no-provenance", "--jsonl"]
    )
    rows_without = (tmp_path / "o2" / "results.jsonl").read_text().splitlines()
    assert skipped.exit_code == 1
    assert {json.loads(r)["provenance"] for r in rows_without} == {None}
