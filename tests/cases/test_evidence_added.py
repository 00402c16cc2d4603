"""More evidence later: its items join the existing clusters, and decisions stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.banks import Banks
from bastion.cases.analysts import Analysts
from bastion.cases.building import CaseBuilder
from bastion.cases.priority import Tier
from bastion.cases.publish import publish
from bastion.cases.reading import CaseReader
from bastion.cases.records import CaseError
from bastion.config import Settings
from bastion.scan.results import RESULTS, SCHEMA
from bastion.store import Store
from tests.cases.conftest import Built, analyst
from tests.cases.evidence import camera_exif, jpeg, new_case, picture, scan_into_case


def _cluster_of(built: Built, path: Path) -> int:
    reader = CaseReader(built.store)
    for card in reader.page(built.case.name, limit=1000).clusters:
        if any(m.item_id == str(path) for m in reader.cluster(built.case.name, card.id).members):
            return card.id
    raise AssertionError(f"{path} is in no cluster")


def test_new_copies_join_the_existing_cluster_which_reopens(built: Built, tmp_path: Path) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    camera = _cluster_of(built, built.evidence.camera)
    work.claim(built.case.name, camera, alice)
    work.decide(built.case.name, camera, "1", alice)
    more = tmp_path / "disk2"
    more.mkdir()
    (more / "another-copy.jpg").write_bytes(built.evidence.camera.read_bytes())
    (more / "new.jpg").write_bytes(jpeg(picture(40)))
    report = scan_into_case(built.store, built.settings, built.case, [more])
    assert report.items == 2
    assert report.reopened == 1
    assert _cluster_of(built, more / "another-copy.jpg") == camera
    detail = CaseReader(built.store).cluster(built.case.name, camera)
    assert detail.card.size == 4
    assert detail.card.status == "open"  # the new member is not categorised yet
    assert sorted(m.category or "" for m in detail.members) == ["", *["projectvic:1"] * 3]
    assert "not yet categorised" in detail.card.reason
    assert CaseReader(built.store).summary(built.case.name).items == 12


def _flipped(code: str, bits: list[int]) -> str:
    value = int(code, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:064x}"


def _scan(folder: Path, pdqs: list[str]) -> Path:
    """A finished scan's folder holding one hashed image row per PDQ."""
    folder.mkdir(parents=True)
    rows: list[dict[str, Any]] = [
        {
            "item_id": str(folder / f"{n}.jpg"),
            "status": "hashed",
            "sha256": f"{hash((folder.name, n)) & (2**256 - 1):064x}",
            "pdq": pdq,
            "pdq_quality": 100,
            "low_quality": False,
            "verdict": "unknown",
            "matches": [],
            "suppressed": [],
        }
        for n, pdq in enumerate(pdqs)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / RESULTS)
    (folder / "summary.json").write_text(json.dumps({"banks": {}}))
    return folder


def test_evidence_that_links_two_clusters_merges_them_into_the_older(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    a = f"{int.from_bytes(rng.bytes(32), 'big'):064x}"
    flips = [int(bit) for bit in rng.choice(256, 40, replace=False)]
    b = _flipped(a, flips)  # 40 bits from a: another cluster
    c = _flipped(a, flips[:20])  # 20 bits from each: links them
    case = new_case(store, tmp_path, banks=())
    builder = CaseBuilder(store, "test")
    builder.add_scanned(case, ["disk1"], _scan(tmp_path / "s1", [a, b]))
    first = CaseReader(store).page(case.name).clusters
    assert [card.size for card in first] == [1, 1]
    older, newer = sorted(card.id for card in first)
    alice = analyst(store, "alice")
    work = Analysts(store, Settings(home=tmp_path / "home"))
    work.claim(case.name, newer, alice)
    work.decide(case.name, newer, "4", alice)
    report = builder.add_scanned(case, ["disk2"], _scan(tmp_path / "s2", [c]))
    assert report.merged == 1
    after = CaseReader(store).page(case.name).clusters
    assert [(card.id, card.size) for card in after] == [(older, 3)]
    members = CaseReader(store).cluster(case.name, older).members
    assert [m.category for m in members] == [None, "projectvic:4", None]
    assert after[0].status == "open"
    assert CaseReader(store).summary(case.name).items == 3


def test_published_categories_are_known_in_the_next_case(built: Built, tmp_path: Path) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    plain = _cluster_of(built, built.evidence.plain)
    work.claim(built.case.name, plain, alice)
    work.decide(built.case.name, plain, "projectvic:2", alice)
    banks = Banks(built.store, actor="test")
    banks.create("local-vic")
    report = publish(built.store, banks, built.case.name, "local-vic")
    assert report.added == 4  # md5, sha1, sha256 and PDQ of the one categorised item
    with pytest.raises(CaseError, match="nothing to publish"):
        publish(built.store, banks, built.case.name, "local-vic", categories=["0"])
    later = tmp_path / "later"
    later.mkdir()
    (later / "seen-before.jpg").write_bytes(jpeg(picture(2).resize((300, 225))))
    (later / "new.jpg").write_bytes(jpeg(picture(41), camera_exif(gps=False)))
    next_case = new_case(built.store, tmp_path, "op-next", banks=("local-vic",))
    scan_into_case(built.store, built.settings, next_case, [later])
    cards = CaseReader(built.store).page("op-next").clusters
    assert [card.tier for card in cards] == [Tier.POSSIBLY_REAL_NEW, Tier.KNOWN_CATEGORISED]
    assert "Child Exploitive" in cards[1].reason
