"""``bastion exchange ...`` as a user runs it: exit codes, credentials refused
with the reason, and the secret never in the store, on stdout or on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from bastion.exchanges import lease
from bastion.exchanges.registry import exchange_row
from bastion.store import Store
from tests.exchanges.conftest import secret_file
from tests.exchanges.fakes.ncmec import FakeNcmec

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)
    return settings


def bastion(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def add_args(fake: FakeNcmec, credentials: Path | str, name: str = "ncmec-test") -> list[str]:
    return [
        "exchange",
        "add",
        name,
        "--api",
        "ncmec",
        "--bank",
        "NCMEC",
        "--url",
        fake.url,
        "--credentials",
        str(credentials),
    ]


def test_add_sync_show_remove_with_exit_codes(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    ncmec.generate(30, deletions=0.2, seed=1)
    credentials = secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
    code, _, err = bastion(*add_args(ncmec, credentials))
    assert code == 0, err
    code, out, err = bastion("exchange", "sync", "ncmec-test")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "ok"
    # Each live entry adds at least one fingerprint.
    assert report["added"] >= len(ncmec.live_keys()) > 0
    code, out, _ = bastion("exchange", "show", "ncmec-test", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["last_status"] == "ok"
    assert shown["checkpoint"]
    code, out, _ = bastion("exchange", "list", "--json")
    assert [e["name"] for e in json.loads(out)] == ["ncmec-test"]
    # A name that does not exist, a usage error: 2.
    assert bastion("exchange", "show", "nope")[0] == 2
    assert bastion("exchange", "sync", "nope")[0] == 2
    assert bastion("exchange", "remove", "ncmec-test")[0] == 0
    assert bastion("exchange", "list", "--json")[1].strip() == "[]"


def test_a_sync_that_ends_in_error_exits_1_and_says_why(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    ncmec.generate(10, deletions=0.0, seed=2)
    credentials = secret_file(tmp_path, "user:wrong-password")
    assert bastion(*add_args(ncmec, credentials))[0] == 0
    code, out, err = bastion("exchange", "sync")
    assert code == 1
    report = json.loads(out)
    assert report["status"] == "error"
    assert report["error_code"] == "exchange-auth"
    assert "exchange-auth" in bastion("exchange", "show", "ncmec-test", "--json")[1]
    assert "refused" in err or "401" in err


def test_credentials_readable_by_others_are_refused_with_the_fix(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    credentials = secret_file(tmp_path, "user:pass", mode=0o644)
    code, _out, err = bastion(*add_args(ncmec, credentials))
    assert code == 2
    assert "may be read by others" in err
    assert "chmod 600" in err
    assert bastion("exchange", "list", "--json")[1].strip() == "[]"


def test_wrong_form_and_missing_credentials_are_refused(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    code, _, err = bastion(*add_args(ncmec, secret_file(tmp_path, "no-colon-here")))
    assert code == 2
    assert "user:password" in err
    code, _, err = bastion(*add_args(ncmec, tmp_path / "missing.cred"))
    assert code == 2
    assert "cannot read credentials" in err
    code, _, err = bastion(*add_args(ncmec, "env:BASTION_TEST_UNSET_SECRET"))
    assert code == 2
    assert "BASTION_TEST_UNSET_SECRET" in err


def test_a_relative_credentials_path_is_kept_absolute(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cron runs ``sync`` from another folder than ``add`` was run in."""
    ncmec.generate(5, deletions=0.0, seed=3)
    secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
    monkeypatch.chdir(tmp_path)
    assert bastion(*add_args(ncmec, "exchange.cred"))[0] == 0
    monkeypatch.chdir(tmp_path.parent)
    code, out, err = bastion("exchange", "sync")
    assert code == 0, err + out
    shown = json.loads(bastion("exchange", "show", "ncmec-test", "--json")[1])
    assert shown["credentials"] == str(tmp_path / "exchange.cred")


def test_the_secret_is_never_stored_printed_or_logged(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ncmec.generate(20, deletions=0.1, seed=4)
    credentials = secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    bad = secret_file(wrong, f"{ncmec.username}:another-s3cret-pass")
    said = [
        bastion(*add_args(ncmec, credentials)),
        bastion(*add_args(ncmec, bad, name="wrong-pass")),
        bastion("exchange", "sync"),
        bastion("exchange", "list"),
        bastion("exchange", "list", "--json"),
        bastion("exchange", "show", "ncmec-test"),
        bastion("exchange", "show", "wrong-pass", "--json"),
    ]
    printed = "\n".join(out + err for _, out, err in said) + caplog.text
    for secret in (ncmec.password, "another-s3cret-pass"):
        assert secret not in printed
    if cli_env.store_url.startswith("sqlite"):
        database = Path(cli_env.store_url.removeprefix("sqlite:///"))
        # The database and its write-ahead log, as they are on disk.
        data = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert b"ncmec-test" in data
        assert ncmec.password.encode() not in data
        assert b"another-s3cret-pass" not in data
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(cli_env.store_url)
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
            dump = "".join(
                connection.execute(
                    text(
                        "SELECT coalesce(string_agg(row_to_json(t)::text, ''), '') "
                        f'FROM "{name}" t'
                    )
                ).scalar_one()
                for name in list(tables)
            )
        engine.dispose()
        assert "ncmec-test" in dump
        for secret in (ncmec.password, "another-s3cret-pass"):
            assert secret not in dump


def test_an_exchange_synced_elsewhere_is_reported_and_the_others_still_sync(
    cli_env: Settings, store: Store, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    ncmec.generate(10, deletions=0.0, seed=5)
    credentials = secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
    assert bastion(*add_args(ncmec, credentials, name="busy"))[0] == 0
    assert bastion(*add_args(ncmec, credentials, name="free"))[0] == 0
    with store.sessions() as session:
        busy_id = exchange_row(session, "busy").id
    lease.take(store, busy_id, "elsewhere:1:held")
    code, out, err = bastion("exchange", "sync", "busy", "free")
    assert code == 1
    reports = {r["exchange"]: r for r in map(json.loads, out.splitlines())}
    assert reports["busy"]["status"] == "busy"
    assert reports["busy"]["error_code"] == "exchange-busy"
    assert reports["free"]["status"] == "ok"
    assert "another process is syncing" in err


def test_an_option_the_api_does_not_know_is_refused(
    cli_env: Settings, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    """A misspelt option would otherwise change nothing, silently."""
    credentials = secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
    code, _, err = bastion(*add_args(ncmec, credentials), "--option", "pagesize=5")
    assert code == 2
    assert "pagesize" in err
    assert bastion("exchange", "list", "--json")[1].strip() == "[]"
