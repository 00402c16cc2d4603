"""Videos in a case cluster by vPDQ: two edits of one clip are one cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

from bastion.cases.reading import CaseReader
from bastion.config import Settings
from bastion.store import Store
from tests.cases.evidence import new_case, scan_into_case


def test_edits_of_one_clip_are_one_cluster(tmp_path: Path, testdata: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    store = Store.open(settings)
    evidence = tmp_path / "phone"
    evidence.mkdir()
    for name in ("chair-19-sd-bar", "chair-20-sd-bar", "doorknob-hd-no-bar"):
        shutil.copy(testdata / "vpdq" / f"{name}.mp4", evidence / f"{name}.mp4")
    case = new_case(store, tmp_path, banks=())
    scan_into_case(store, settings, case, [evidence])
    reader = CaseReader(store)
    clusters = {
        frozenset(Path(m.item_id).stem for m in reader.cluster(case.name, card.id).members)
        for card in reader.page(case.name).clusters
    }
    assert clusters == {
        frozenset({"chair-19-sd-bar", "chair-20-sd-bar"}),
        frozenset({"doorknob-hd-no-bar"}),
    }
    store.dispose()
