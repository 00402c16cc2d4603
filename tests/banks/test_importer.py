"""Imports are idempotent transactions that report every rejected row (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bastion.banks import BankError, BankKind, BankNotFound, Banks
from bastion.banks.entries import export_entries
from bastion.banks.importer import BATCH_SIZE
from bastion.fingerprint import Signal
from bastion.formats.records import FormatError
from bastion.store import Store
from bastion.store.models import Entry
from tests.banks.helpers import import_text
from tests.formats import samples as s


@pytest.fixture
def banks(store: Store) -> Banks:
    banks = Banks(store, actor="test")
    banks.create("known", description="placeholder list")
    return banks


def entry_count(store: Store) -> int:
    with store.sessions() as session:
        return session.execute(select(func.count()).select_from(Entry)).scalar_one()


def test_import_reports_rejects_and_keeps_valid_rows(banks: Banks) -> None:
    report = import_text(banks.store, "known", "csv", s.CSV_DOC)
    assert (report.added, report.rejected) == (3, 4)
    reasons = {r.location: r.reason for r in report.rejects}
    assert reasons["line 8"] == "duplicate of line 2"
    assert "unknown signal type" in reasons["line 6"]
    stats = banks.stats("known")
    assert stats.by_signal_type == {"md5": 1, "pdq": 1, "sha1": 1}
    assert stats.by_label == {"(none)": 1, "iwf:B": 1, "ncmec:A1": 1, "placeholder tag": 1}
    assert stats.last_import is not None
    assert stats.last_import.rejected == 4


def test_reimport_adds_nothing(banks: Banks) -> None:
    import_text(banks.store, "known", "ncmec", s.NCMEC_XML)
    before = entry_count(banks.store)
    again = import_text(banks.store, "known", "ncmec", s.NCMEC_XML)
    assert again.changed == 0
    assert again.unchanged == 6 + 1  # six signals, and the tombstone of an unknown id
    assert entry_count(banks.store) == before
    assert banks.stats("known").imports == 2


def test_dry_run_changes_nothing_but_reports_the_same(banks: Banks) -> None:
    dry = import_text(banks.store, "known", "vics", s.VICS_2_0, dry_run=True)
    assert dry.added == 4
    assert dry.dry_run
    assert entry_count(banks.store) == 0
    assert banks.stats("known").imports == 0
    real = import_text(banks.store, "known", "vics", s.VICS_2_0)
    assert (real.added, real.rejected) == (dry.added, dry.rejected)


def test_truncated_document_leaves_the_bank_untouched(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A}\n")
    rows = ",\n".join(
        f'{{"signalType": "ImagePDQ", "hashValue": "{i:064x}", "hashStatus": "Active"}}'
        for i in range(BATCH_SIZE * 2 + 10)
    )
    truncated = '{"hashRecords": [' + rows[: len(rows) - 30]
    with pytest.raises(FormatError):
        import_text(banks.store, "known", "stopncii", truncated)
    assert entry_count(banks.store) == 1
    assert banks.stats("known").imports == 1


def test_withdrawals_and_restores(banks: Banks) -> None:
    import_text(banks.store, "known", "ncmec", s.NCMEC_XML)
    deleted = s.NCMEC_XML.replace(
        "<deletedImage>\n            <member", "<x/><deletedImage><member"
    )
    deleted = deleted.replace("<id>image4</id>", "<id>image1</id>").replace('id="43"', 'id="42"')
    report = import_text(banks.store, "known", "ncmec", deleted)
    assert report.withdrawn == 4  # every fingerprint of image1
    stats = banks.stats("known")
    assert stats.withdrawn == 4
    assert stats.active == 2
    restored = import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},ncmec:A1\n")
    assert restored.restored == 1


def test_relabel_counts_as_update(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:A\n")
    report = import_text(banks.store, "known", "csv", f"md5,{s.MD5_A},iwf:C\n")
    assert (report.updated, report.added) == (1, 0)
    assert banks.stats("known").by_label == {"iwf:C": 1}


def test_stopncii_withdrawn_records_become_tombstones(banks: Banks) -> None:
    report = import_text(banks.store, "known", "stopncii", s.STOPNCII_JSON)
    assert (report.added, report.withdrawn, report.rejected) == (2, 1, 1)
    exported = list(export_entries(banks.store, "known", include_withdrawn=True))
    assert {(e.signal.value, e.withdrawn) for e in exported} == {
        (s.PDQ_A, False),
        (s.MD5_V, False),
        (s.PDQ_B, True),
    }


def test_duplicates_across_batches_are_reported(banks: Banks) -> None:
    lines = [f"md5,{i:032x}" for i in range(BATCH_SIZE + 5)] + [f"md5,{0:032x}"]
    report = import_text(banks.store, "known", "csv", "\n".join(lines))
    assert report.added == BATCH_SIZE + 5
    assert [r.reason for r in report.rejects] == ["duplicate of an earlier row of this list"]


def test_missing_bank_and_bad_names(store: Store) -> None:
    banks = Banks(store, actor="test")
    with pytest.raises(BankNotFound, match="no bank named 'nope'"):
        import_text(store, "nope", "csv", f"md5,{s.MD5_A}\n")
    for name in ("../etc", "a/b", "", "x" * 65, ".hidden", "a b"):
        with pytest.raises(BankError, match="invalid bank name"):
            banks.create(name)
    banks.create("ok-name_1.2")
    with pytest.raises(BankError, match="already exists"):
        banks.create("ok-name_1.2")
    with pytest.raises(BankError, match="between 0 and 63"):
        banks.create("too-far", pdq_threshold=200)


def test_add_withdraw_and_delete(banks: Banks) -> None:
    banks.create("allowed", kind=BankKind.ALLOWLIST)
    report = banks.add_signals("known", [Signal("md5", s.MD5_A)], ["NCMEC:b1"])
    assert report.added == 1
    assert banks.withdraw_signals("known", [Signal("md5", s.MD5_A)]) == 1
    assert banks.withdraw_signals("known", [Signal("md5", s.MD5_A)]) == 0
    assert banks.delete("known") == 1
    assert [b.name for b in banks.list()] == ["allowed"]
    assert entry_count(banks.store) == 0


def test_a_list_with_no_usable_row_is_refused_and_not_recorded(banks: Banks) -> None:
    import_text(banks.store, "known", "csv", f"md5,{s.MD5_A}\n")
    with pytest.raises(FormatError, match="none of its 2 rows could be used as csv"):
        import_text(banks.store, "known", "csv", "bogus,1\nmd5,xyz\n")
    with pytest.raises(FormatError, match="no csv rows found"):
        import_text(banks.store, "known", "csv", "# only a comment\n")
    stats = banks.stats("known")
    assert stats.imports == 1
    assert stats.last_import is not None
    assert stats.last_import.added == 1
