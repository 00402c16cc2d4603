"""Lists that share hashes keep each other's labels and ids (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.banks import Banks
from bastion.banks.entries import export_entries
from bastion.store import Store
from bastion.store.models import EntrySource
from tests.banks.helpers import import_text
from tests.formats import samples as s

DELETE_IMAGE1 = (
    '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images>'
    '<deletedImage><member id="42">Example Member</member><id>image1</id></deletedImage>'
    "</images></queryResult>"
)


@pytest.fixture
def banks(store: Store) -> Banks:
    banks = Banks(store, actor="test")
    banks.create("known")
    return banks


def labels_of(banks: Banks, value: str) -> tuple[str, ...]:
    [entry] = [e for e in export_entries(banks.store, "known") if e.signal.value == value]
    return entry.labels


def test_a_list_without_labels_keeps_another_lists_labels(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},ncmec:A1\n", source="a.csv")
    report = import_text(banks.store, "known", "te", f"md5 {s.MD5_A}\n", source="b.txt")
    assert labels_of(banks, s.MD5_A) == ("ncmec:A1",)
    assert report.relabelled == 0
    merged = import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:B\n", source="c.csv")
    assert labels_of(banks, s.MD5_A) == ("iwf:B", "ncmec:A1")
    assert (merged.updated, merged.relabelled) == (1, 1)


def test_a_list_replaces_only_its_own_labels(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},ncmec:A1\n", source="a.csv")
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:A\n", source="b.csv")
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:C\n", source="b.csv")
    assert labels_of(banks, s.MD5_A) == ("iwf:C", "ncmec:A1")
    again = import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:C\n", source="b.csv")
    assert again.changed == 0


def test_replace_labels_replaces_every_sources_labels(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},ncmec:A1\n", source="a.csv")
    import_text(
        banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:B\n", source="b.csv", replace_labels=True
    )
    assert labels_of(banks, s.MD5_A) == ("iwf:B",)
    import_text(banks.store, "known", "te", f"md5 {s.MD5_A}\n", source="c.txt")
    assert labels_of(banks, s.MD5_A) == ("iwf:B",)  # a.csv's label stays replaced


def test_dry_run_shows_label_changes(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},ncmec:A1\n", source="a.csv")
    document = f"md5,{s.MD5_A},iwf:B\nmd5,{s.MD5_B},iwf:B\n"
    dry = import_text(banks.store, "known", "csv", document, source="b.csv", dry_run=True)
    assert dry.relabelled == 1
    [change] = dry.label_changes
    assert (change.location, change.before, change.after) == (
        "line 1",
        ("ncmec:A1",),
        ("iwf:B", "ncmec:A1"),
    )
    assert dry.to_dict()["label_changes"] == [
        {"where": "line 1", "before": ["ncmec:A1"], "after": ["iwf:B", "ncmec:A1"]}
    ]
    assert labels_of(banks, s.MD5_A) == ("ncmec:A1",)
    replaced = import_text(
        banks.store, "known", "csv", document, source="b.csv", dry_run=True, replace_labels=True
    )
    assert [c.after for c in replaced.label_changes] == [("iwf:B",)]


def test_external_ids_are_kept_per_source(banks: Banks) -> None:
    import_text(banks.store, "known", "ncmec", s.NCMEC_XML, source="ncmec-feed")
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},,vic-77\n", source="other.csv")
    with banks.store.sessions() as session:
        ids = {
            (source, external_id)
            for source, external_id in session.execute(
                select(EntrySource.source, EntrySource.external_id)
            )
        }
    assert {("ncmec-feed", "42/image1"), ("other.csv", "vic-77")} <= ids
    # Entry ids are unique only per member: another member's image1 is another entry.
    other_member = DELETE_IMAGE1.replace('id="42"', 'id="43"')
    report = import_text(banks.store, "known", "ncmec", other_member, source="ncmec-feed")
    assert report.withdrawn == 0
    # NCMEC withdraws its entry image1 by its own id, whatever other lists call it.
    report = import_text(banks.store, "known", "ncmec", DELETE_IMAGE1, source="ncmec-feed")
    assert report.withdrawn == 4  # md5, sha1, pdq, photodna
    withdrawn = {
        e.signal.value
        for e in export_entries(banks.store, "known", include_withdrawn=True)
        if e.withdrawn
    }
    assert s.MD5_A in withdrawn
