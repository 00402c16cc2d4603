"""Every bank change made with ``bastion bank ...`` is in the audit log, by the OS user,
and a change that rolls back leaves no record (SQLite and PostgreSQL)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bastion.banks.importer import BATCH_SIZE
from tests.formats import samples as s


def _records(bastion) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The audit log as ``bastion audit show`` prints it, oldest first."""
    shown = bastion("audit", "show", "--limit", "1000")
    assert shown.exit_code == 0, shown.output
    return [json.loads(line) for line in reversed(shown.stdout.splitlines())]


def _verified(bastion) -> int:  # type: ignore[no-untyped-def]
    verified = bastion("audit", "verify")
    assert verified.exit_code == 0, verified.output
    records: int = json.loads(verified.stdout)["records"]
    return records


def test_each_cli_bank_change_is_recorded_with_the_os_user(
    bastion,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "ada")
    doc = tmp_path / "list.csv"
    doc.write_text(s.CSV_DOC)
    steps = [
        ("bank", "create", "known"),
        ("bank", "update", "known", "--description", "from the hotline", "--pdq-threshold", "20"),
        ("bank", "import", "known", str(doc)),
        ("bank", "add", "known", f"md5:{'ab' * 16}", "--label", "iwf:A"),
        ("bank", "remove", "known", f"md5:{'ab' * 16}"),
        ("bank", "delete", "known", "--yes"),
    ]
    for step in steps:
        assert bastion(*step).exit_code in (0, 1), step  # import: some rows are rejected
    records = _records(bastion)
    assert [(r["actor"], r["action"], r["target"]) for r in records] == [
        ("cli:ada", "bank.create", "bank:known"),
        ("cli:ada", "bank.update", "bank:known"),
        ("cli:ada", "bank.import", "bank:known"),
        ("cli:ada", "bank.add", "bank:known"),
        ("cli:ada", "bank.withdraw", "bank:known"),
        ("cli:ada", "bank.delete", "bank:known"),
    ]
    created, updated, imported, added, withdrawn, deleted = (r["detail"] for r in records)
    assert created["kind"] == "blocklist"
    assert updated == {"description": "from the hotline", "pdq_threshold": 20}
    assert imported["source"] == "list.csv"
    assert (imported["added"], imported["rejected"]) == (3, 4)
    assert added["added"] == 1
    assert withdrawn["withdrawn"] == 1
    assert deleted["entries"] == 4
    assert _verified(bastion) == len(steps)


def test_the_os_user_is_named_even_without_a_login_name(
    bastion,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_name() -> str:
        raise KeyError("uid not in the password database")

    monkeypatch.setattr(getpass, "getuser", no_name)
    assert bastion("bank", "create", "known").exit_code == 0
    [record] = _records(bastion)
    assert record["actor"] == f"cli:uid{os.getuid()}"


def test_dry_runs_and_failed_imports_leave_no_record(
    bastion,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    assert bastion("bank", "create", "known").exit_code == 0
    doc = tmp_path / "list.csv"
    doc.write_text(s.CSV_DOC)
    assert bastion("bank", "import", "known", str(doc), "--dry-run").exit_code == 1
    # A document cut off near its end fails after whole batches of it were merged.
    rows = ",\n".join(
        f'{{"signalType": "ImagePDQ", "hashValue": "{i:064x}", "hashStatus": "Active"}}'
        for i in range(BATCH_SIZE * 2 + 10)
    )
    truncated = tmp_path / "cut.json"
    truncated.write_text('{"hashRecords": [' + rows[: len(rows) - 30])
    failed = bastion("bank", "import", "known", str(truncated), "--format", "stopncii")
    assert failed.exit_code == 2, failed.output
    assert [r["action"] for r in _records(bastion)] == ["bank.create"]
    assert json.loads(bastion("bank", "show", "known", "--json").stdout)["active"] == 0
    assert _verified(bastion) == 1
