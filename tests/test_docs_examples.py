"""Every scan command and snippet users copy from the docs runs, on generated benign data.

Fenced blocks of docs/scanning.md and of README's scan section are run in
order in one folder that holds what they name: ``collection/``,
``seized.zip``, ``shards/00000.tar`` ... and ``data/parquet/``, with a store
whose blocklist holds one of their images.  ``sh`` blocks run under
``bash -e``; ``console`` blocks run their ``$`` lines (what follows them is
sample output); ``python`` blocks run as scripts.  A block whose info string
says ``cluster`` needs a Ray cluster and is not run here (tests/scan/test_ray.py
runs the Ray engine).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bastion.banks import Banks
from bastion.banks.entries import add_signals
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.store import Store
from tests.scan.fixtures import jpeg, write_parquet, write_tar, write_zip

ROOT = Path(__file__).resolve().parent.parent
_FENCE = re.compile(r"^( *)```(\w+)([^\n]*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every block that is run."""
    found = []
    for match in _FENCE.finditer(text):
        language, info, body = match.group(2), match.group(3), match.group(4)
        if language in ("sh", "console", "python") and "cluster" not in info:
            found.append((language, textwrap.dedent(body)))
    return found


def readme_scan_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Scan collections and datasets")
    return text[start : text.index("\n## ", start + 1)]


def make_data(folder: Path) -> dict[str, str]:
    """The files the examples name, and the environment they run in."""
    (folder / "collection").mkdir()
    for n in range(3):
        (folder / "collection" / f"{n}.jpg").write_bytes(jpeg(n))
    write_zip(folder / "seized.zip", [("inside.jpg", jpeg(10))])
    (folder / "shards").mkdir()
    for shard in range(4):
        samples = [(f"{shard}{n:03d}", jpeg(100 + 10 * shard + n)) for n in range(3)]
        write_tar(
            folder / "shards" / f"{shard:05d}.tar",
            [(f"{key}.{ext}", data) for key, image in samples for ext, data in
             (("jpg", image), ("txt", b"placeholder caption"))],
        )  # fmt: skip
    (folder / "data" / "parquet").mkdir(parents=True)
    images: list[bytes | None] = [jpeg(200 + n) for n in range(5)]
    write_parquet(
        folder / "data" / "parquet" / "part-0.parquet", images, [f"k{n}" for n in range(5)]
    )
    home = folder / "home"
    settings = Settings(home=home)
    store = Store.open(settings)
    Banks(store).create("known")
    banked = [jpeg(1), jpeg(101), jpeg(202)]  # one in each kind of source
    add_signals(store, "known", [hash_bytes(image).signals[0] for image in banked])
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    shim = bin_folder / "bastion"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bastion "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "BASTION_HOME": str(home),
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }


def run(language: str, code: str, folder: Path, environment: dict[str, str]) -> None:
    if language == "python":
        commands = [[sys.executable, "-c", code]]
    elif language == "sh":
        commands = [["bash", "-e", "-c", code]]
    else:
        commands = [
            ["bash", "-e", "-c", line[2:]] for line in code.splitlines() if line.startswith("$ ")
        ]
    for command in commands:
        done = subprocess.run(
            command, cwd=folder, env=environment, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{command[-1]}\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("page", ["docs/scanning.md", "README.md"])
def test_docs_scan_examples_run(page: str, tmp_path: Path) -> None:
    text = (ROOT / page).read_text()
    examples = blocks(readme_scan_section() if page == "README.md" else text)
    assert examples, f"no runnable examples found in {page}"
    environment = make_data(tmp_path)
    for language, code in examples:
        run(language, code, tmp_path, environment)
    outs = [p for p in tmp_path.iterdir() if (p / "summary.json").exists()]
    assert outs, "the examples ran no scan"
    for out in outs:
        assert (out / "removal-list.txt").read_text().count("\n") == 1, out.name
