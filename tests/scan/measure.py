"""Scan one source in a fresh process and report its rows and peak resident memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_SCAN = """
import json, sys
from pathlib import Path
import pyarrow.parquet as pq
from bastion.config import Settings
from bastion.scan.engine import ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions
source, out, image_column = sys.argv[1:4]
options = SourceOptions(image_column=image_column) if image_column else SourceOptions()
run_scan(ScanPlan([source], options), Path(out), local_engine(1), index=None,
         settings=Settings(home=Path(out) / "home"))
rows = pq.read_table(Path(out) / "results.parquet").to_pylist()
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": peak, "rows": [
    {k: row[k] for k in ("item_id", "status", "error_code", "error")} for row in rows]}))
"""


def scan_in_fresh_process(source: Path, out: Path, image_column: str = "") -> dict[str, Any]:
    """``{"peak_mb": ..., "rows": [...]}`` of ``bastion scan`` over ``source`` on one worker."""
    done = subprocess.run(
        [sys.executable, "-c", _SCAN, str(source), str(out), image_column],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result
