"""The audit log's chain shows any edited or deleted record."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from bastion import audit
from bastion.cli import app
from bastion.config import Settings
from bastion.store import Store
from bastion.store.models import AuditRecord


def _write(store: Store, count: int) -> None:
    for number in range(count):
        with store.transaction() as session:
            audit.record(session, "test", "thing.done", f"item:{number}", n=number)


def test_an_intact_log_verifies(store: Store) -> None:
    _write(store, 5)
    result = audit.verify(store)
    assert result.ok
    assert result.records == 5
    assert result.head_seq == 5


def test_an_edited_record_is_found(store: Store) -> None:
    _write(store, 5)
    with store.transaction() as session:
        session.execute(
            update(AuditRecord).where(AuditRecord.seq == 3).values(actor="someone else")
        )
    result = audit.verify(store)
    assert not result.ok
    assert [(p.seq, "edited" in p.message) for p in result.problems] == [(3, True)]


def test_a_deleted_record_is_found(store: Store) -> None:
    _write(store, 5)
    with store.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    problems = audit.verify(store).problems
    assert any("missing" in p.message for p in problems)


def test_deleting_the_newest_records_is_found(store: Store) -> None:
    _write(store, 5)
    with store.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq >= 4))
    problems = audit.verify(store).problems
    assert problems
    assert "head" in problems[-1].message


def test_an_action_that_rolls_back_leaves_no_record(store: Store) -> None:
    class Abort(Exception):
        pass

    try:
        with store.transaction() as session:
            audit.record(session, "test", "never.happened")
            raise Abort
    except Abort:
        pass
    _write(store, 1)
    result = audit.verify(store)
    assert result.ok
    assert result.records == 1


def test_concurrent_writers_keep_one_chain(store: Store) -> None:
    threads = [threading.Thread(target=_write, args=(store, 10)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = audit.verify(store)
    assert result.ok
    assert result.records == 40


def test_cli_verify_exit_status(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["user", "add", "hana", "--role", "admin", "--password-stdin"],
        input="a long test password\n",
    )
    assert added.exit_code == 0, added.output
    key = runner.invoke(app, ["apikey", "create", "platform", "--role", "client"])
    assert key.exit_code == 0
    assert key.stdout.strip().startswith("bst_")
    good = runner.invoke(app, ["audit", "verify"])
    assert good.exit_code == 0
    assert json.loads(good.stdout)["records"] == 2
    store = Store.open(settings)
    with store.transaction() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 1).values(target="user:other"))
    store.dispose()
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "record 1" in bad.stderr
