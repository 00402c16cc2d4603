"""User data (file names, labels, bank descriptions, messages) is printed as written,
never read as Rich markup: ``[bold]dune.jpg`` stays ``[bold]dune.jpg``."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from bastion.cli.progress import progress_bar
from tests.cli.conftest import Invoke
from tests.images import encode, photo_like

LABEL = "[bold]x[/bold]"
DESCRIPTION = "[red]placeholder[/red] list [v2]"


def test_file_names_are_printed_literally(bastion: Invoke, tmp_path: Path) -> None:
    named = tmp_path / "[bold]dune.jpg"
    named.write_bytes(encode(photo_like(200, 150, 9), "JPEG"))
    table = bastion("hash", str(named))
    assert table.exit_code == 0, table.output
    assert "[bold]dune.jpg" in table.stdout


def test_error_rows_keep_brackets(bastion: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "[red]broken.jpg"
    broken.write_text("plain words [dim]\n")
    table = bastion("hash", str(broken))
    assert table.exit_code == 1
    assert "[red]broken.jpg" in table.stdout


def test_labels_are_printed_literally(bastion: Invoke, photo: Path) -> None:
    assert bastion("bank", "create", "known").exit_code == 0
    added = bastion("bank", "add", "known", str(photo), "--label", LABEL)
    assert added.exit_code == 0, added.output
    table = bastion("match", str(photo))
    assert table.exit_code == 0, table.output
    assert f"[{LABEL}]" in table.stdout
    shown = bastion("bank", "show", "known")
    assert LABEL in shown.stdout


def test_bank_descriptions_are_printed_literally(bastion: Invoke) -> None:
    created = bastion("bank", "create", "known", "--description", DESCRIPTION)
    assert created.exit_code == 0, created.output
    assert DESCRIPTION in bastion("bank", "list").stdout
    assert DESCRIPTION in bastion("bank", "show", "known").stdout
    assert json.loads(bastion("bank", "list", "--json").stdout)["description"] == DESCRIPTION


def test_messages_keep_brackets(bastion: Invoke, tmp_path: Path) -> None:
    missing = bastion("bank", "show", "[bold]nope")
    assert missing.exit_code == 2
    assert "[bold]nope" in missing.stderr
    bad_hash = bastion("match", "--no-banks", "--hash", "[bold]x:zz")
    assert bad_hash.exit_code == 2
    assert "unknown signal type '[bold]x'" in bad_hash.stderr
    gone = bastion("inspect", str(tmp_path / "[bold]gone.jpg"))
    assert gone.exit_code == 2
    assert "[bold]gone.jpg" in gone.stderr


def test_progress_descriptions_are_literal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120)
    bar = progress_bar(console)
    bar.add_task("importing [bold]list.csv", total=3)
    console.print(bar.make_tasks_table(bar.tasks))
    assert "importing [bold]list.csv" in out.getvalue()


def test_scan_prints_paths_and_bank_names_literally(
    bastion: Invoke, photo: Path, tmp_path: Path
) -> None:
    assert bastion("bank", "create", "known").exit_code == 0
    assert bastion("bank", "add", "known", str(photo)).exit_code == 0
    out = tmp_path / "[bold]scan"
    scanned = bastion("scan", str(photo), "--out", str(out))
    assert scanned.exit_code == 0, scanned.output
    assert f"results in {out}/" in " ".join(scanned.stderr.split())
