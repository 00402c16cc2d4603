"""The Ray engine gives row for row what the local engine gives (local Ray cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bastion.banks import Banks
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.matching import Index
from bastion.scan.engine import ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions
from bastion.store import Store
from tests.scan.fixtures import jpeg, write_parquet, write_shards, write_zip

ray = pytest.importorskip("ray", reason="the Ray engine needs the [ray] extra")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster started for these tests (2 CPUs, no dashboard)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_engine_equals_local_engine(ray_cluster: None, tmp_path: Path) -> None:
    from bastion.scan.ray_engine import ray_engine

    settings = Settings(home=tmp_path / "home")
    store = Store.open(settings)
    Banks(store, actor="test").create("known")
    planted = [hash_bytes(jpeg(n)) for n in (3, 17)]
    Banks(store, actor="test").add_signals(
        "known", [fp.signals[0] for fp in planted] + [planted[1].signals[3]]
    )
    index = Index.open(store, settings)

    pattern = write_shards(tmp_path / "shards", samples=40, per_shard=12)
    folder = tmp_path / "files"
    folder.mkdir()
    for number in range(5):
        (folder / f"{number}.jpg").write_bytes(jpeg(100 + number))
    write_zip(folder / "z.zip", [("in.jpg", jpeg(200)), ("bad.png", b"\x89PNG\r\n\x1a\nxx")])
    images: list[bytes | None] = [jpeg(300 + n) for n in range(9)] + [None]
    write_parquet(tmp_path / "t.parquet", images, [f"k{n}" for n in range(10)])
    plan = ScanPlan([pattern, str(folder), str(tmp_path / "t.parquet")], SourceOptions())

    local = run_scan(plan, tmp_path / "local", local_engine(2), index=index, settings=settings)
    distributed = run_scan(plan, tmp_path / "ray", ray_engine(), index=index, settings=settings)
    local_rows_ = pq.read_table(tmp_path / "local" / "results.parquet").to_pylist()
    ray_rows_ = pq.read_table(tmp_path / "ray" / "results.parquet").to_pylist()
    assert ray_rows_ == local_rows_
    assert local["seen"] == distributed["seen"] == 40 + 5 + 2 + 10
    assert local["matched"] == distributed["matched"] == 2
    removal = (tmp_path / "ray" / "removal-list.txt").read_text().split()
    assert [Path(i.split("#")[0]).name for i in removal] == ["data-000000.tar", "data-000001.tar"]
