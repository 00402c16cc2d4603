"""The Ray engine: the same units and the same ``scan_item``, on a Ray cluster.

Units (a shard, a Parquet file, a few hundred files) become a Ray Dataset;
``map_batches`` runs them on a pool of actors that each hold the match index
(its snapshot memory-mapped from the path the driver used, so every node
needs the snapshot at that path - see docs/scanning.md); rows stream back in
unit order, so the output is row for row what the local engine writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice
from typing import Any

from bastion.banks.index import Index
from bastion.config import Settings
from bastion.pipeline import scan_item
from bastion.scan.engine import RowSource, ScanPlan
from bastion.scan.sources import Unit, iter_units, unit_items


class _UnitScanner:
    """A Ray actor: scans the units whose numbers arrive in each batch."""

    def __init__(self, units: list[Unit], index: Index | None, settings: Settings, plan: ScanPlan):
        self.units = units
        self.index = index
        self.settings = settings
        self.plan = plan

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows: list[dict[str, Any]] = []
        for number in batch["unit"]:
            unit = self.units[int(number)]
            for position, item in enumerate(unit_items(unit, self.plan.options, self.settings)):
                result = scan_item(
                    item,
                    self.index,
                    self.settings,
                    include_low_quality=self.plan.include_low_quality,
                )
                rows.append({"_unit": int(number), "_pos": position, **result.to_row()})
        return {"rows": rows}


def ray_rows(
    plan: ScanPlan,
    index: Index | None,
    settings: Settings,
    *,
    address: str | None = None,
    actors: int | None = None,
) -> RowSource:
    """Rows computed on Ray, in item order, from item ``skip`` on."""

    def rows(skip: int) -> Iterator[dict[str, Any]]:
        import ray

        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        units = list(iter_units(plan.sources, plan.options))
        if not units:
            return
        cpus = ray.cluster_resources().get("CPU", os.cpu_count() or 1)  # type: ignore[no-untyped-call]
        pool = actors or max(1, int(cpus))
        dataset = ray.data.from_items(
            [{"unit": number} for number in range(len(units))],
            override_num_blocks=min(len(units), pool * 4),
        ).map_batches(
            _UnitScanner,
            fn_constructor_args=(units, index, settings, plan),
            batch_size=1,
            concurrency=pool,
            batch_format="numpy",
        )
        scanned = (
            {k: v for k, v in row.items() if not k.startswith("_")}
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy")
            for row in batch["rows"]
        )
        yield from islice(scanned, skip, None)

    return rows
