"""Term banks: banks of ``text`` entries through the bank machinery and the match index.

Every term is a neutral placeholder word.  Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from pathlib import Path

from bastion.banks import Banks
from bastion.banks.bank import BankKind
from bastion.banks.entries import export_entries
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.formats import get_format
from bastion.hashing import hash_bytes
from bastion.matching import Index, match, match_signals
from bastion.matching import index as index_module
from bastion.matching.brute import BruteForceIndex
from bastion.matching.terms import TermIndex
from bastion.review.vault import new_key
from bastion.samples import encode, photo_like
from bastion.store import Store
from tests.banks.helpers import import_text
from tests.service.conftest import start_service
from tests.signals.words import placeholder_text

TERMS_CSV = """signal_type,value,labels
text,Teapot,kitchen
text,"Marmalade Jar",kitchen;jars
text,t.e.a.c.u.p,
text,???,
"""


def _screened(index: Index, text: str) -> list[tuple[str, int]]:
    return sorted(
        (m.bank, m.distance) for m in match_signals([Signal("text", text)], index).matches
    )


def test_a_term_bank_imports_exports_and_counts_its_terms(store: Store) -> None:
    banks = Banks(store, actor="test")
    banks.create("terms")
    report = import_text(store, "terms", "csv", TERMS_CSV)
    assert (report.added, report.rejected) == (3, 1)
    assert "no letters or digits" in report.rejects[0].reason
    # Other spellings of a banked term are the same entry.
    for spelling in ("TEA-POT", "t34p0t"):
        again = banks.add_signals("terms", [Signal("text", spelling)])
        assert (again.added, again.rejected) == (0, 0)
    assert banks.stats("terms").by_signal_type == {"text": 3}

    out = io.BytesIO()
    get_format("csv").write(export_entries(store, "terms"), out)
    assert out.getvalue().decode().splitlines() == [
        "signal_type,value,labels,external_id",
        "text,teapot,kitchen,",
        "text,marmalade jar,jars;kitchen,",
        "text,teacup,,",
    ]
    assert (
        banks.withdraw_signals("terms", [Signal("text", "Tea Cup"), Signal("text", "TeaCup")]) == 1
    )


def test_the_index_screens_texts_for_live_terms(store: Store, settings: Settings) -> None:
    banks = Banks(store, actor="test")
    banks.create("kitchen")
    banks.create("strict", pdq_threshold=0)
    banks.add_signals(
        "kitchen", [Signal("text", "teapot"), Signal("text", "bluebird")], ["local:x"]
    )
    banks.add_signals("strict", [Signal("text", "teapot")])
    index = Index.open(store, settings)
    assert _screened(index, "a T34POT!") == [("kitchen", 0), ("strict", 0)]
    # A bank's threshold caps the edits a term's length allows: 0 is exact only.
    assert _screened(index, "two teapots") == [("kitchen", 1)]
    found = match_signals([Signal("text", "a bluebird")], index).matches
    assert [(m.signal_type, m.labels) for m in found] == [("text", ("local:x",))]

    banks.withdraw_signals("kitchen", [Signal("text", "teapot")])
    banks.add_signals("kitchen", [Signal("text", "marmalade")])
    index.refresh()
    assert _screened(index, "teapot marmalade") == [("kitchen", 0), ("strict", 0)]
    index.rebuild()  # the terms go into the snapshot and come back from it
    assert _screened(index, "teapot marmalade") == [("kitchen", 0), ("strict", 0)]
    reopened = Index.open(store, settings)
    assert _screened(reopened, "teapot marmalade") == [("kitchen", 0), ("strict", 0)]
    assert reopened.entry_counts() == {
        bank.id: 2 if bank.name == "kitchen" else 1 for bank in banks.list()
    }


def test_a_snapshot_from_before_term_banks_is_not_loaded(store: Store, settings: Settings) -> None:
    Banks(store, actor="test").create("terms")
    Banks(store, actor="test").add_signals("terms", [Signal("text", "teapot")])
    index = Index.open(store, settings)
    manifest = index.snapshot / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 2}))
    assert index_module._newest_snapshot(index.snapshot_root) is None
    assert _screened(Index.open(store, settings), "a teapot") == [("terms", 0)]


def test_a_term_never_matches_media(store: Store, settings: Settings) -> None:
    """A term spelled like an image's hashes stays a term: media never meets it."""
    fingerprint = hash_bytes(encode(photo_like(64, 48, seed=4)))
    banks = Banks(store, actor="test")
    banks.create("terms")
    hashes = [s.value for s in fingerprint.signals]
    banks.add_signals("terms", [Signal("text", value) for value in hashes])
    assert banks.stats("terms").active == len(set(hashes))
    index = Index.open(store, settings)
    assert match(fingerprint, index) == []
    assert match_signals(fingerprint.signals, index).matches == ()
    reference = BruteForceIndex.from_store(store)
    for signal in fingerprint.signals:
        assert index.lookup(signal) == reference.lookup(signal) == []


def test_a_term_on_an_allowlist_suppresses_nothing(store: Store, settings: Settings) -> None:
    """Screening must not be switched off by adding an allowlisted word to a prompt."""
    banks = Banks(store, actor="test")
    banks.create("terms")
    banks.create("fine", kind=BankKind.ALLOWLIST)
    banks.add_signals("terms", [Signal("text", "teapot")])
    banks.add_signals("fine", [Signal("text", "bluebird"), Signal("text", "teapot")])
    outcome = match_signals(
        [Signal("text", "a bluebird and a teapot")], Index.open(store, settings)
    )
    assert [m.bank for m in outcome.matches] == ["terms"]
    assert outcome.suppressed == ()
    assert sorted(m.bank for m in outcome.allowlisted) == ["fine", "fine"]


def test_a_long_text_is_banked_and_found(store: Store, settings: Settings) -> None:
    """Past what a unique index holds on PostgreSQL, as a video's vPDQ is stored."""
    rng = random.Random(5)
    long_term = placeholder_text(rng, (1500, 1500))
    Banks(store, actor="test").create("terms")
    Banks(store, actor="test").add_signals("terms", [Signal("text", long_term)])
    assert _screened(Index.open(store, settings), f"so {long_term} too") == [("terms", 0)]
    assert [e.signal.value for e in export_entries(store, "terms")] == [long_term]
    assert Banks(store, actor="test").withdraw_signals("terms", [Signal("text", long_term)]) == 1
    assert TermIndex.from_store(store).screen(long_term) == []


# --- the doors: the CLI and /v1 -------------------------------------------------

SCREENED = "A T34P0T by the marmalade jars"


def test_a_term_bank_through_the_cli(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    terms = tmp_path / "terms.csv"
    terms.write_text(TERMS_CSV)
    assert bastion("bank", "create", "kitchen-terms").exit_code == 0
    imported = bastion("bank", "import", "kitchen-terms", str(terms))
    assert imported.exit_code == 1  # one row rejected
    assert "3 added" in imported.output
    assert bastion("bank", "add", "kitchen-terms", "text:Tea Cake", "text bluebird").exit_code == 0
    exported = bastion("bank", "export", "kitchen-terms")
    assert "text,tea cake,," in exported.output.splitlines()
    listed = json.loads(bastion("bank", "list", "--json").stdout.splitlines()[0])
    assert (listed["name"], listed["active"]) == ("kitchen-terms", 5)

    matched = bastion("match", "--format", "jsonl", "--hash", f"text:{SCREENED}")
    assert matched.exit_code == 0
    row = json.loads(next(line for line in matched.output.splitlines() if line.startswith("{")))
    assert row["path"] == "text:a teapot by the marmalade jars"
    assert [(m["distance"], m["labels"]) for m in row["matches"]] == [
        (0, ["kitchen"]),
        (1, ["jars", "kitchen"]),
    ]
    removed = bastion("bank", "remove", "kitchen-terms", "text:TEA  CAKE!")
    assert "withdrew 1 of 1" in removed.output


def test_a_term_bank_through_v1(settings: Settings) -> None:
    for service in start_service(replace(settings, media_keys=new_key())):
        curator, client = service.auth("curator"), service.auth("client")
        http = service.client
        assert http.post("/v1/banks", json={"name": "terms"}, headers=curator).status_code == 201
        body = {
            "signals": [{"type": "text", "value": v} for v in ("T.e.a.p.o.t", "Marmalade Jar")],
            "labels": ["local:kitchen"],
        }
        added = http.post("/v1/banks/terms/entries", json=body, headers=curator).json()
        assert added["added"] == 2
        bad = {"signals": [{"type": "text", "value": "?!"}]}
        refused = http.post("/v1/banks/terms/entries", json=bad, headers=curator)
        assert refused.status_code == 400
        assert refused.json()["code"] == "invalid-signal"
        described = http.get("/v1/banks/terms", headers=client).json()
        assert described["by_signal_type"] == {"text": 2}
        lines = http.get("/v1/banks/terms/entries", headers=client).text.splitlines()
        assert sorted(json.loads(line)["value"] for line in lines) == ["marmalade jar", "teapot"]

        query = {"signals": [{"type": "text", "value": SCREENED}]}
        found = http.post("/v1/match", json=query, headers=client).json()
        assert found["matched"]
        assert sorted(m["distance"] for m in found["matches"]) == [0, 1]
        withdraw = {"signals": [{"type": "text", "value": "TEAPOT"}]}
        gone = http.post("/v1/banks/terms/entries/withdraw", json=withdraw, headers=curator)
        assert gone.json() == {"withdrawn": 1}
        found = http.post("/v1/match", json=query, headers=client).json()
        assert [m["distance"] for m in found["matches"]] == [1]
