"""A finished scan of every kind of source, against a bank, for attestations to state."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bastion.audit import cli_actor
from bastion.banks import Banks
from bastion.config import Settings
from bastion.matching import Index
from bastion.scan.engine import ScanPlan, bank_versions, local_engine, run_scan
from bastion.scan.sources import SourceOptions
from bastion.store import Store
from tests.scan.fixtures import banked_index, jpeg, write_parquet, write_shards, write_zip


@dataclass(frozen=True)
class Scanned:
    """A dataset (a folder, shards named by a pattern, a Parquet file) and its scan."""

    root: Path
    folder: Path
    shards: Path
    parquet: Path
    sources: list[str]
    settings: Settings
    out: Path

    def summary(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "summary.json").read_text()))

    def scan(self, out: Path, **settings: Any) -> dict[str, Any]:
        """Scan the sources (again) into ``out`` against the bank."""
        scan_settings = Settings(home=self.settings.home, **settings)
        store = Store.open(scan_settings)
        index = Index.open(store, scan_settings)
        banks = bank_versions(Banks(store, actor=cli_actor()), index)
        plan = ScanPlan(self.sources, SourceOptions(id_column="key"), banks)
        engine = local_engine(1)
        return run_scan(plan, out, engine, index=index, settings=scan_settings)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_dataset(root: Path, settings: Settings) -> Scanned:
    folder = root / "data"
    (folder / "more").mkdir(parents=True)
    for n in range(3):
        (folder / f"{n}.jpg").write_bytes(jpeg(n))
    (folder / "more" / "3.jpg").write_bytes(jpeg(3))
    (folder / "more" / "cut.jpg").write_bytes(jpeg(4)[:300])  # not fully checked
    write_zip(folder / "bundle.zip", [("inside.jpg", jpeg(5)), ("notes.txt", b"teapot\n")])
    pattern = write_shards(root / "shards", samples=6, per_shard=3)
    parquet = write_parquet(
        root / "table.parquet", [jpeg(n) for n in range(10, 19)], [f"k{n}" for n in range(9)]
    )
    banked_index(settings, [jpeg(1)])
    scanned = Scanned(
        root,
        folder,
        root / "shards",
        parquet,
        [str(folder), pattern, str(parquet)],
        settings,
        root / "out",
    )
    scanned.scan(scanned.out)
    return scanned


@pytest.fixture
def scanned(tmp_path: Path) -> Scanned:
    return make_dataset(tmp_path, Settings(home=tmp_path / "home"))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
