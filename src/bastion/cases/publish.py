"""Learning: a case's categorised hashes added to a local bank.

The next case then finds them known, and any peer that follows the bank
(``bastion exchange add --api bastion``) receives them through its changes
feed.  Each item becomes one entry per hash (MD5, SHA-1, SHA-256 and a PDQ
of good quality) sharing the item's id, labelled with its category and the
case's name, through the same bank merge as every import, so the change is
audited and can be withdrawn like any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import func, select

from bastion.banks import Banks
from bastion.banks.importer import ImportReport
from bastion.cases.records import CaseError, CaseRecord, case_named
from bastion.formats.records import ReadItem, make_record
from bastion.store import Store
from bastion.store.models import CaseItem

PUBLISH_FORMAT = "case"


def publish(
    store: Store,
    banks: Banks,
    case_name: str,
    bank: str,
    *,
    categories: Sequence[str] = (),
    dry_run: bool = False,
) -> ImportReport:
    """Add the case's items categorised in ``categories`` (default: those a
    bank should know) to ``bank``."""
    with store.sessions() as session:
        case = case_named(session, case_name)
    chosen = (
        {case.scheme.category(text).label for text in categories}
        if categories
        else {c.label for c in case.scheme.categories if c.publish}
    )
    banks.get(bank)  # a missing bank is an error before anything is read
    with store.sessions() as session:
        waiting = session.execute(
            select(func.count()).where(
                CaseItem.case_id == case.id, CaseItem.category.in_(sorted(chosen))
            )
        ).scalar_one()
    if not waiting:
        titles = ", ".join(sorted(case.scheme.title(label) for label in chosen))
        raise CaseError(f"no item of case {case.name} is categorised {titles}; nothing to publish")
    return banks.import_records(
        bank,
        _records(store, case, chosen),
        source=f"case:{case.name}",
        format=PUBLISH_FORMAT,
        dry_run=dry_run,
    )


def _records(store: Store, case: CaseRecord, categories: set[str]) -> Iterator[ReadItem]:
    with store.sessions() as session:
        rows = session.execute(
            select(
                CaseItem.id,
                CaseItem.category,
                CaseItem.md5,
                CaseItem.sha1,
                CaseItem.sha256,
                CaseItem.pdq,
                CaseItem.low_quality,
            )
            .where(CaseItem.case_id == case.id, CaseItem.category.in_(sorted(categories)))
            .order_by(CaseItem.number),
            execution_options={"yield_per": 5000},
        )
        for row in rows:
            labels = [row.category, f"case:{case.name}"]
            hashes = [("md5", row.md5), ("sha1", row.sha1), ("sha256", row.sha256)]
            if not row.low_quality:
                hashes.append(("pdq", row.pdq))
            for signal_type, value in hashes:
                if value:
                    yield make_record(
                        f"item {row.id} {signal_type}",
                        signal_type,
                        value,
                        labels,
                        external_id=f"case:{case.name}:{row.id}",
                    )
