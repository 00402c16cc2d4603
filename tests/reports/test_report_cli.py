"""``bastion report``: send, resume after a SIGKILL, read, retract, hold; the reporter;
the credentials file and the preservation period as configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from tests.reports.conftest import Reporters, context
from tests.reports.fakes import xsd
from tests.reports.fakes.cybertip import FakeCyberTipline
from tests.service.conftest import image_bytes

Invoke = Callable[..., Result]


def _environment(settings: Settings) -> dict[str, str]:
    """The variables a user sets to report from the command line."""
    assert settings.cybertip_credentials is not None
    return {
        "BASTION_HOME": str(settings.home),
        "BASTION_DATABASE_URL": settings.store_url,
        "BASTION_MEDIA_KEYS": settings.media_keys,
        "BASTION_CYBERTIP_URL": settings.cybertip_url,
        "BASTION_CYBERTIP_CREDENTIALS": str(settings.cybertip_credentials),
    }


@pytest.fixture
def bastion(report_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    for name, value in _environment(report_settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_cybertip_sends_and_list_and_show_read_it(
    reporters: Reporters, cybertip: FakeCyberTipline, bastion: Invoke
) -> None:
    items = [reporters.item(upload_context=context()) for _ in range(2)]

    record = _json(bastion("report", "cybertip", *map(str, items), "--incident-type", "1"))

    assert record["state"] == "finished"
    remote = cybertip.reports[record["remote_id"]]
    assert remote.finished
    assert len(remote.files) == 2
    listed = [json.loads(line) for line in bastion("report", "list").stdout.splitlines()]
    assert [entry["id"] for entry in listed] == [record["id"]]
    shown = _json(bastion("report", "show", str(record["id"])))
    assert shown["report_xml"] == remote.xml.decode()
    assert all(file["hold_until"] and file["hold_reason"] for file in shown["files"])


def test_dry_run_prints_the_documents_and_sends_nothing(
    reporters: Reporters, cybertip: FakeCyberTipline, bastion: Invoke
) -> None:
    item = reporters.item(upload_context=context())

    result = bastion("report", "cybertip", str(item), "--dry-run", "--annotate", "viral")

    assert result.exit_code == 0, result.output
    documents = ["<?xml" + part for part in result.stdout.split("<?xml")[1:]]
    assert len(documents) == 2
    xsd.validate(ET.fromstring(documents[0].encode()), "report")
    details = ET.fromstring(documents[1].encode())
    assert [flag.tag for flag in details.iterfind("fileAnnotations/*")] == ["viral"]
    assert cybertip.submissions == 0
    assert bastion("report", "list").stdout == ""


def test_the_reporter_is_set_once_and_shown(
    reporters: Reporters, bastion: Invoke, tmp_path: Path
) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("Uploads follow the placeholder terms.\n")

    _json(
        bastion(
            "report", "reporter", "set", "--first-name", "Ann", "--last-name", "Other",
            "--email", "ann@example.org", "--terms-of-service", str(terms),
            "--legal-url", "https://example.org/law",
        )
    )  # fmt: skip

    shown = _json(bastion("report", "reporter", "show"))
    assert shown["reporting"] == {
        "first_name": "Ann",
        "last_name": "Other",
        "emails": ["ann@example.org"],
        "phones": [],
    }
    assert shown["terms_of_service"] == "Uploads follow the placeholder terms."
    assert shown["legal_url"] == "https://example.org/law"


def test_hold_extends_an_items_preservation(reporters: Reporters, bastion: Invoke) -> None:
    item = reporters.item(upload_context=context())

    held = _json(
        bastion("report", "hold", str(item), "--until", "2031-01-01T00:00:00Z", "--reason", "R-7")
    )

    assert held["hold_until"].startswith("2031-01-01")
    assert held["hold_reason"] == "R-7"
    refused = bastion("report", "hold", str(item), "--until", "2031-01-01", "--reason", "x")
    assert refused.exit_code != 0
    assert "UTC offset" in refused.output


def test_credentials_others_may_read_are_refused(
    reporters: Reporters, cybertip: FakeCyberTipline, bastion: Invoke, report_settings: Settings
) -> None:
    item = reporters.item(upload_context=context())
    assert report_settings.cybertip_credentials is not None
    report_settings.cybertip_credentials.chmod(0o644)

    result = bastion("report", "cybertip", str(item))

    assert result.exit_code != 0
    assert "chmod 600" in result.output
    assert "a test password" not in result.output
    assert cybertip.submissions == 0


def test_a_preservation_period_under_a_year_is_refused(
    reporters: Reporters, bastion: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_PRESERVE_DAYS", "100")

    result = bastion("report", "list")

    assert result.exit_code != 0
    assert "BASTION_PRESERVE_DAYS=100" in result.output
    assert "may only be longer" in result.output


# --- killed while sending ---------------------------------------------------------------


def _killed_while_waiting_on(
    endpoint: str, items: list[int], settings: Settings, cybertip: FakeCyberTipline
) -> None:
    """Run ``bastion report cybertip`` in its own process and SIGKILL it while it waits
    on ``endpoint`` (the call it waits on is then dropped, as if it never arrived)."""
    hold = cybertip.hold_next(endpoint)
    process = subprocess.Popen(
        [sys.executable, "-m", "bastion", "report", "cybertip", *map(str, items)],
        env={**os.environ, **_environment(settings)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert hold.reached.wait(60), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        hold.drop()
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("endpoint", ["upload", "fileinfo", "finish"])
def test_sigkill_between_submit_and_finish_then_resume_sends_nothing_twice(
    endpoint: str,
    reporters: Reporters,
    cybertip: FakeCyberTipline,
    report_settings: Settings,
    bastion: Invoke,
) -> None:
    media = [image_bytes(700), image_bytes(701)]
    items = [reporters.item(data, upload_context=context()) for data in media]
    _killed_while_waiting_on(endpoint, items, report_settings, cybertip)
    [stopped] = [json.loads(line) for line in bastion("report", "list").stdout.splitlines()]
    assert stopped["state"] == "submitted"
    assert cybertip.submissions == 1

    record = _json(bastion("report", "resume", str(stopped["id"])))

    assert record["state"] == "finished"
    assert cybertip.submissions == 1
    remote = cybertip.reports[record["remote_id"]]
    assert remote.finished
    assert sorted(file.data for file in remote.files.values()) == sorted(media)
    assert sorted(file["file_id"] for file in record["files"]) == sorted(remote.files)


def test_a_report_killed_before_finish_can_be_retracted(
    reporters: Reporters, cybertip: FakeCyberTipline, report_settings: Settings, bastion: Invoke
) -> None:
    item = reporters.item(upload_context=context())
    _killed_while_waiting_on("upload", [item], report_settings, cybertip)
    [stopped] = [json.loads(line) for line in bastion("report", "list").stdout.splitlines()]

    retracted = _json(bastion("report", "retract", str(stopped["id"])))

    assert retracted["state"] == "retracted"
    assert cybertip.reports[stopped["remote_id"]].retracted
    assert bastion("report", "resume", str(stopped["id"])).exit_code != 0
