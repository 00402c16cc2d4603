"""What importing Bastion costs a process: resident memory after each import.

Usage:  python bench/imports.py [--repeat 3]

Every process that imports Bastion - the CLI, each API worker, each scan
worker, a process holding a 10 M-hash index - pays for the libraries that
``import`` loads before it does any work.  Each import below runs in a fresh
interpreter; RSS comes from /proc/self/status and PSS (resident memory with
shared pages divided among the processes sharing them) from
/proc/self/smaps_rollup where the kernel has it.  The floor is a bare
interpreter with numpy and Pillow, which any image hasher needs; every row
is also given as its difference from the floor and its ratio to it.  The
median of ``--repeat`` runs is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

#: What each row imports; the floor first.
IMPORTS = {
    "floor (numpy + PIL)": "import numpy, PIL.Image",
    "import bastion": "import bastion",
    "bastion.matching": "import bastion.matching",
    "bastion.scan.engine": "import bastion.scan.engine",
    "bastion.cli": "import bastion.cli",
    "bastion.service.app": "import bastion.service.app",
}

#: Runs in the child after the import: its memory in MiB and its modules.
_MEASURE = """
import json, sys
from pathlib import Path
def field(path, key):
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0]) / 1024
    return None
rollup = Path("/proc/self/smaps_rollup")
print(json.dumps({
    "rss": field("/proc/self/status", "VmRSS"),
    "pss": field(rollup, "Pss") if rollup.exists() else None,
    "modules": len(sys.modules),
}))
"""


def measure(statement: str) -> dict[str, float | None]:
    """RSS, PSS (MiB) and module count of a fresh interpreter after ``statement``."""
    output = subprocess.run(
        [sys.executable, "-c", f"{statement}\n{_MEASURE}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float | None] = json.loads(output.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, float | None]], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(v for v in values if v is not None) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per import (median)")
    options = parser.parse_args()
    rows = {}
    for name, statement in IMPORTS.items():
        runs = [measure(statement) for _ in range(options.repeat)]
        rows[name] = {key: median_of(runs, key) for key in ("rss", "pss", "modules")}
    floor = rows["floor (numpy + PIL)"]
    header = ("import", "RSS MiB", "+floor", "x floor", "PSS MiB", "modules")
    print("{:<22} {:>8} {:>7} {:>7} {:>8} {:>8}".format(*header))
    for name, row in rows.items():
        rss, base = row["rss"] or 0.0, floor["rss"] or 1.0
        pss = f"{row['pss']:8.1f}" if row["pss"] is not None else f"{'-':>8}"
        print(
            f"{name:<22} {rss:8.1f} {rss - base:+7.1f} {rss / base:6.2f}x {pss} "
            f"{row['modules'] or 0:8.0f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
