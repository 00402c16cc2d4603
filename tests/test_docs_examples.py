"""Every command and snippet users copy from the docs runs, on generated benign data.

Each page (README.md and every docs/*.md) runs its fenced blocks in order in
one temporary folder holding every file the examples name (tests/docs_data.py:
``collection/``, ``seized.zip``, ``shards/00000.tar`` ..., ``clip.mp4``,
``entries.xml`` ...; docs/scanning.md's collection also holds the broken
files of ``make demo``'s) and a store whose blocklist holds one image of
each kind of scan source.

- ``sh`` blocks run under ``bash -e``; ``python`` blocks run as scripts.
- ``console`` blocks run their ``$`` lines in order in one shell (so a
  variable set on one line is there on the next).  What follows a ``$``
  line is its sample output: each of its lines must be found in what the
  command printed (stdout and stderr), where ``…`` stands for anything,
  and numbers and hex digests may differ (the docs show a real list's
  counts, the test has a small one).
- **Exit status**: a ``$`` line must exit 0, unless it says otherwise in a
  trailing comment, ``# exits N`` (as docs/exit-codes.md describes, e.g.
  ``$ bastion hash broken.jpg  # exits 1``): it must then exit exactly N.
- A ``$ bastion serve ...`` line starts a real server in the background on
  a free loopback port (its ``--host``/``--port`` are replaced) and waits
  until it answers ``/status``; ``localhost:8000`` and ``127.0.0.1:8000`` in
  the page's blocks are replaced by that port.  Password prompts are
  answered from stdin.  The server is stopped when the page is done.
- Blocks whose info string carries one of these tags are not run:
  ``cluster`` needs a Ray cluster (tests/scan/test_ray.py runs the Ray
  engine); ``bench`` runs a benchmark at its full documented size, minutes
  to hours of work whose figures the page reports (the bench scripts are
  not tests); ``network`` downloads from the internet, and tests reach
  loopback only; ``clone`` runs make targets of a fresh clone (``make
  test`` runs this very suite).
- ``text``, ``json`` and bare fences are output only and are not run; any
  other language fails the test, so no block is skipped by a typo.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs_data import make_examples_folder
from tests.service.live import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
RUN = {"sh", "console", "python"}
OUTPUT = {"", "text", "json"}
NOT_RUN = {"cluster", "bench", "network", "clone"}
#: What every password prompt is answered with (twice: the confirmation).
PASSWORD = "a long example password\n" * 2
_OPEN = re.compile(r"^( *)```(\w*)(.*)$")
_SPACE = re.compile(r"(\s+)")
_EXITS = re.compile(r"#\s*exits (\d+)")
#: What may differ between a sample output line and the real one.
_ANYTHING = r"\s*…\s*"
_HEX = r"(?<![0-9A-Za-z])[0-9a-f]{8,}(?![0-9A-Za-z])"
_NUMBER = r"(?<!\w)\d+(?:,\d{3})*(?:\.\d+)?(?!\w)"
_VARIABLE = re.compile(f"({_ANYTHING}|{_HEX}|{_NUMBER})")


@dataclass
class Block:
    page: str
    line: int
    language: str
    tags: list[str]
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line} ({self.language} block)"


@dataclass
class Command:
    line: str
    expected: int
    sample: list[str] = field(default_factory=list)


def blocks(page: str, text: str) -> list[Block]:
    """Every fenced block of ``text``, with the line its fence opens on."""
    found: list[Block] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = _OPEN.match(lines[number])
        number += 1
        if not opening:
            continue
        indent, language, info = opening.groups()
        start, body = number, []
        while number < len(lines) and lines[number].rstrip() != f"{indent}```":
            body.append(lines[number])
            number += 1
        assert number < len(lines), f"{page}:{start}: unclosed code block"
        number += 1
        code = textwrap.dedent("\n".join(body) + "\n")
        found.append(Block(page, start, language, info.split(), code))
    return found


def runnable(block: Block) -> bool:
    assert block.language in RUN | OUTPUT, f"{block.where}: unknown block language"
    return block.language in RUN and not NOT_RUN.intersection(block.tags)


def commands(code: str) -> list[Command]:
    """The ``$`` lines of a console block with their sample output."""
    found: list[Command] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            expected = _EXITS.search(line)
            found.append(Command(line[2:], int(expected.group(1)) if expected else 0))
        elif found and line.strip():
            found[-1].sample.append(line.strip())
    return found


def sample_pattern(line: str) -> re.Pattern[str]:
    """A sample output line as a pattern: ``…`` is anything, numbers and hex
    digests are any, runs of spaces any spacing."""
    parts = []
    for n, piece in enumerate(_VARIABLE.split(line)):
        if n % 2 == 0:
            parts += [r"\s+" if word.isspace() else re.escape(word) for word in _SPACE.split(piece)]
        elif piece.strip() == "…":
            parts.append(".*")
        elif re.fullmatch(_HEX, piece):
            parts.append("[0-9a-f]+")
        else:
            parts.append(_NUMBER)
    return re.compile("".join(parts))


class Page:
    """Runs one page's blocks in its folder; owns the servers they start."""

    def __init__(self, folder: Path, log: Path, environment: dict[str, str]) -> None:
        self.folder, self.log, self.environment = folder, log, environment
        self.port = free_port()
        (log / "stdin").write_text(PASSWORD)

    def adapt(self, code: str) -> str:
        """Point the examples at this page's server."""
        for address in ("localhost:8000", "127.0.0.1:8000"):
            code = code.replace(address, f"127.0.0.1:{self.port}")
        return code

    def execute(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=self.folder,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            start_new_session=True,  # no terminal: prompts read stdin; servers stop as a group
        )

    def run(self, block: Block) -> None:
        code = self.adapt(block.code)
        if block.language == "console":
            self.run_console(block, commands(code))
            return
        interpreter = [sys.executable] if block.language == "python" else ["bash", "-e"]
        done = self.execute([*interpreter, "-c", code])
        assert done.returncode == 0, f"{block.where} failed\n{done.stdout}\n{done.stderr}"

    def serve(self, line: str) -> str:
        """A ``bastion serve`` line, started in the background on the test's port."""
        command = line.split(" #")[0]
        command = re.sub(r"\s--(host|port)[ =]\S+", "", command)
        command = command.replace(
            "bastion serve", f"bastion serve --host 127.0.0.1 --port {self.port}", 1
        )
        status = f"http://127.0.0.1:{self.port}/status"
        return textwrap.dedent(f"""\
            {command} > {self.log}/serve.log 2>&1 &
            echo $! >> {self.log}/servers
            for attempt in $(seq 600); do
              curl -sf {status} > /dev/null && curl -sf {status} > /dev/null && break
              sleep 0.1
            done
            curl -sf {status}
            """)

    def run_console(self, block: Block, found: list[Command]) -> None:
        assert found, f"{block.where}: a console block without a $ line"
        script = []
        for n, command in enumerate(found):
            line = self.serve(command.line) if command.line.startswith("bastion serve") else (
                f"{{\n{command.line}\n}} < {self.log}/stdin"
            )  # fmt: skip
            script.append(
                textwrap.dedent(f"""\
                {{
                {line}
                }} > {self.log}/{n}.out 2> {self.log}/{n}.err
                status=$?; echo $status > {self.log}/{n}.status
                [ $status -eq {command.expected} ] || exit 97
                (exit $status)
                """)
            )
        done = self.execute(["bash", "-c", "\n".join(script)])
        for n, command in enumerate(found):
            status_file = self.log / f"{n}.status"
            assert status_file.exists(), f"{block.where}: did not reach $ {command.line}"
            printed = (self.log / f"{n}.out").read_text() + (self.log / f"{n}.err").read_text()
            where = f"{block.where}: $ {command.line}"
            status = int(status_file.read_text())
            assert status == command.expected, (
                f"{where}\nexited {status}, expected {command.expected}\n{printed}\n"
                f"{done.stderr}{self.server_log()}"
            )
            for sample in command.sample:
                assert sample_pattern(sample).search(printed), (
                    f"{where}\nprinted nothing like the sample line\n  {sample}\n"
                    f"it printed:\n{printed}"
                )

    def server_log(self) -> str:
        log = self.log / "serve.log"
        return f"\nbastion serve printed:\n{log.read_text()}" if log.exists() else ""

    def stop_servers(self) -> None:
        started = self.log / "servers"
        for pid in map(int, started.read_text().split() if started.exists() else []):
            try:
                os.killpg(os.getpgid(pid), signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def page_runner(page: str, tmp_path: Path) -> Iterator[Page]:
    folder, log = tmp_path / "examples", tmp_path / "log"
    folder.mkdir()
    log.mkdir()
    runner = Page(folder, log, make_examples_folder(folder, page))
    try:
        yield runner
    finally:
        runner.stop_servers()


@pytest.mark.parametrize("page", PAGES)
def test_docs_examples_run(page: str, tmp_path: Path) -> None:
    examples = [block for block in blocks(page, (ROOT / page).read_text()) if runnable(block)]
    with page_runner(page, tmp_path) as runner:
        for block in examples:
            runner.run(block)
    for out in (p for p in runner.folder.iterdir() if (p / "summary.json").exists()):
        # Each scan's sources hold exactly one banked item.
        lines = (out / "removal-list.txt").read_text().count("\n")
        assert lines == 1, f"{page}: {out.name}/removal-list.txt has {lines} lines"


def test_the_main_examples_are_not_tagged_away() -> None:
    for page in ("README.md", "docs/scanning.md"):
        text = (ROOT / page).read_text()
        assert any(
            "bastion scan" in block.code for block in blocks(page, text) if runnable(block)
        ), page


def test_sample_lines_allow_other_counts_but_not_other_words() -> None:
    pattern = sample_pattern("ncmec: 1,000 rows in 0.2 s; … 2 rejected")
    assert pattern.search("ncmec: 3 rows in 0.01 s; changed: 3 added; 0 rejected")
    assert not pattern.search("ncmec: 3 rows in 0.01 s; changed: 3 added; 0 refused")
    assert sample_pattern('"md5":"ddaa0bd5…"').search('"md5":"0123456789abcdef"')


def test_exit_status_comment() -> None:
    found = commands("$ bastion hash broken.jpg  # exits 1\nsome output\n$ echo $?\n1\n")
    assert [(c.expected, c.sample) for c in found] == [(1, ["some output"]), (0, ["1"])]
