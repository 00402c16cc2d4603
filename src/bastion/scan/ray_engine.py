"""The Ray engine: the same units and the same ``scan_unit``, on a Ray cluster.

Unit numbers become a Ray Dataset; ``map_batches`` runs them on a pool of
actors that each hold the match index (its snapshot memory-mapped from the
path the driver used) and write each unit's Parquet parts straight into the
scan's output folder.  So every node needs the snapshot and the output
folder at the same paths - a shared filesystem; see docs/scanning.md.  The
driver only counts finished rows; ``run_scan`` assembles the parts in item
order, so the output is row for row what the local engine writes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

from bastion.scan.engine import Engine, Progress, ScanContext, ScanError, scan_unit
from bastion.scan.sources import Unit


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """Fail fast on a cluster address nothing listens on (Ray itself retries for minutes)."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ScanError(f"--ray-address {address!r} is not HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ScanError(f"cannot reach the Ray cluster at {address}: {exc}") from None


class _UnitScanner:
    """A Ray actor: scans the units whose numbers arrive in each batch."""

    def __init__(self, units: dict[int, Unit], context: ScanContext):
        self.units = units
        self.context = context

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[int]]:
        rows = [
            scan_unit(int(number), self.units[int(number)], self.context, lambda _: None)
            for number in batch["unit"]
        ]
        return {"rows": rows}


def ray_engine(*, address: str | None = None, actors: int | None = None) -> Engine:
    """Units on a Ray cluster (``address``; default: join or start a local one)."""

    def run(jobs: Iterator[tuple[int, Unit]], context: ScanContext, progress: Progress) -> None:
        import ray

        if not ray.is_initialized():
            _check_reachable(address)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise ScanError(f"cannot reach the Ray cluster at {address}: {exc}") from None
        ray.data.DataContext.get_current().enable_progress_bars = False
        units = dict(jobs)
        if not units:
            return
        cpus = ray.cluster_resources().get("CPU", os.cpu_count() or 1)  # type: ignore[no-untyped-call]
        pool = actors or max(1, int(cpus))
        dataset = ray.data.from_items(
            [{"unit": number} for number in units],
            override_num_blocks=min(len(units), pool * 4),
        ).map_batches(
            _UnitScanner,
            fn_constructor_args=(units, context),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=pool),
            batch_format="numpy",
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            progress(int(batch["rows"].sum()))

    return run
