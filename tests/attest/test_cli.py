"""``bastion attest keygen|verify`` and ``bastion scan --attest`` from the command line."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bastion.cli import app
from tests.attest.test_scan_record import _stop_after_one_unit
from tests.scan.fixtures import jpeg, write_shards

Invoke = Callable[..., Result]


@pytest.fixture
def bastion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, [str(arg) for arg in args], env={"COLUMNS": "250"})

    return invoke


@pytest.fixture
def dataset(tmp_path: Path, bastion: Invoke) -> Path:
    """A folder of images, one of them in the blocklist ``known``."""
    folder = tmp_path / "data"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.jpg").write_bytes(jpeg(n))
    assert bastion("bank", "create", "known").exit_code == 0
    assert bastion("bank", "add", "known", folder / "1.jpg").exit_code == 0
    return folder


@pytest.fixture
def keys(tmp_path: Path, bastion: Invoke) -> tuple[Path, Path]:
    made = bastion("attest", "keygen", tmp_path / "scan.key")
    assert made.exit_code == 0, made.output
    return tmp_path / "scan.key", tmp_path / "scan.key.pub"


def test_keygen_writes_the_pair_and_never_replaces_it(
    tmp_path: Path, bastion: Invoke, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = bastion("attest", "keygen", private, "--public", tmp_path / "other.pub")
    assert again.exit_code == 2
    assert again.stderr.strip() == (
        f"error: {private} already exists; choose another name (keys are kept)"
    )
    named = bastion("attest", "keygen", tmp_path / "b.key", "--public", tmp_path / "b.pem")
    assert json.loads(named.stdout)["public"] == str(tmp_path / "b.pem")
    assert "PRIVATE KEY" not in named.output


def test_scan_attest_then_verify(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    out = tmp_path / "out"
    scanned = bastion("scan", dataset, "--out", out, "--attest", private)
    assert scanned.exit_code == 0, scanned.output
    assert f"attestation in {out / 'attestation.json'} (3 files; key id" in scanned.stderr
    assert json.loads(scanned.stdout)["matched"] == 1  # stdout is still the summary alone

    verified = bastion("attest", "verify", out / "attestation.json", "--key", public)
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    assert report["statement"]["subjects"] == 3
    assert report["statement"]["counts"]["matched"] == 1
    assert "verifies: key id" in verified.stderr
    assert "against known (4 entries, change " in verified.stderr  # MD5, SHA-1, SHA-256, PDQ

    checked = bastion(
        "attest", "verify", out / "attestation.json", "--key", public, "--dataset", dataset
    )
    assert checked.exit_code == 0, checked.output
    assert "dataset: all 3 files match their digests" in checked.stderr

    (dataset / "2.jpg").write_bytes(jpeg(20))
    (dataset / "0.jpg").unlink()
    (dataset / "extra.jpg").write_bytes(jpeg(21))
    changed = bastion(
        "attest", "verify", out / "attestation.json", "--key", public, "--dataset", dataset
    )
    assert changed.exit_code == 1
    assert [line.split(" (")[0] for line in changed.stderr.splitlines()] == [
        f"changed: {dataset / '2.jpg'}",
        f"extra: {dataset / 'extra.jpg'}",
        f"missing: {dataset / '0.jpg'}",
        "does not verify: 3 failure(s)",
    ]
    assert json.loads(changed.stdout)["dataset"] == {
        "matching": 1,
        "changed": 1,
        "missing": 1,
        "extra": 1,
        "unreadable": 0,
        "not-attested": 0,
    }


def test_an_unchecked_item_is_stated_and_shown(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    (dataset / "cut.jpg").write_bytes(jpeg(5)[:300])
    out = tmp_path / "out"
    scanned = bastion("scan", dataset, "--out", out, "--attest", private)
    assert scanned.exit_code == 1, scanned.output  # not every item was checked
    assert (out / "attestation.json").exists()
    verified = bastion("attest", "verify", out / "attestation.json", "--key", public)
    assert verified.exit_code == 0
    assert "1 items were not fully checked (the attestation says so)" in verified.stderr
    assert json.loads(verified.stdout)["statement"]["counts"]["unchecked"] == 1


def test_a_key_others_may_read_stops_the_scan_before_it_starts(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, _ = keys
    secret = private.read_text().splitlines()[1]
    private.chmod(0o644)
    out = tmp_path / "out"
    refused = bastion("scan", dataset, "--out", out, "--attest", private)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        f"error: private key {private} may be read by others (-rw-r--r--); run: chmod 600 {private}"
    )
    assert secret not in refused.output
    assert not out.exists()


def test_attest_without_banks_is_refused(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    refused = bastion("scan", dataset, "--out", tmp_path / "o", "--no-banks", "--attest", keys[0])
    assert refused.exit_code == 2
    assert "--attest with --no-banks" in refused.stderr


def test_verify_refusals_and_failures_by_exit_status(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    out = tmp_path / "out"
    assert bastion("scan", dataset, "--out", out, "--attest", private).exit_code == 0
    attestation = out / "attestation.json"
    # Nothing checked (2): a private key for the public one, no such file, datasets miscounted.
    as_private = bastion("attest", "verify", attestation, "--key", private)
    assert as_private.exit_code == 2
    assert f"error: {private} holds a private key" in as_private.stderr
    assert bastion("attest", "verify", out / "nothing.json", "--key", public).exit_code == 2
    twice = ["--dataset", dataset, "--dataset", dataset]
    two = bastion("attest", "verify", attestation, "--key", public, *twice)
    assert two.exit_code == 2
    assert "give one --dataset for each, in that order, not 2" in " ".join(two.stderr.split())
    # Checked and failing (1): another key.
    bastion("attest", "keygen", tmp_path / "other.key")
    other = bastion("attest", "verify", attestation, "--key", tmp_path / "other.key.pub")
    assert other.exit_code == 1
    assert other.stderr.startswith("signature: not signed by the given key")
    assert json.loads(other.stdout)["ok"] is False


def test_a_resumed_scan_is_attested_when_it_finishes(
    tmp_path: Path,
    bastion: Invoke,
    keys: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private, public = keys
    pattern = write_shards(tmp_path / "shards", samples=4, per_shard=2)
    assert bastion("bank", "create", "known").exit_code == 0
    (tmp_path / "banked.jpg").write_bytes(jpeg(3))
    assert bastion("bank", "add", "known", tmp_path / "banked.jpg").exit_code == 0
    out = tmp_path / "out"
    args = ["scan", pattern, "--out", out, "--attest", private, "--workers", "1"]
    with monkeypatch.context() as patched:
        patched.setattr("bastion.cli.scan.local_engine", lambda _: _stop_after_one_unit)
        interrupted = bastion(*args)
    assert interrupted.exit_code == 130
    assert not (out / "attestation.json").exists()
    resumed = bastion(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    verified = bastion("attest", "verify", out / "attestation.json", "--key", public)
    assert json.loads(verified.stdout)["statement"]["subjects"] == 2


def test_a_finished_scan_is_attested_on_resume(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    out = tmp_path / "out"
    assert bastion("scan", dataset, "--out", out).exit_code == 0
    assert not (out / "attestation.json").exists()
    resumed = bastion("scan", dataset, "--out", out, "--resume", "--attest", private)
    assert resumed.exit_code == 0, resumed.output
    assert bastion("attest", "verify", out / "attestation.json", "--key", public).exit_code == 0


def test_a_source_missing_at_scan_time_is_stated_and_may_stay_missing(
    tmp_path: Path, bastion: Invoke, dataset: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    out, gone = tmp_path / "out", tmp_path / "gone"
    scanned = bastion("scan", dataset, gone, "--allow-missing", "--out", out, "--attest", private)
    assert scanned.exit_code == 1, scanned.output  # a source was not scanned
    attestation = out / "attestation.json"
    both = ["--dataset", dataset, "--dataset", gone]
    verified = bastion("attest", "verify", attestation, "--key", public, *both)
    assert verified.exit_code == 0, verified.output
    assert f"missing at scan time, not scanned: {gone}" in verified.stderr
    assert json.loads(verified.stdout)["statement"]["missing_sources"] == [str(gone)]
