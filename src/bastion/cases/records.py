"""A case as the code above the store sees it, and the errors cases raise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bastion.cases.schemes import CaseScheme, case_scheme
from bastion.errors import BastionError
from bastion.store.models import Case


class CaseError(BastionError, ValueError):
    """A case operation that cannot be done as asked."""

    code = "case-error"
    status = 400


class CaseNotFound(CaseError):
    code = "case-not-found"
    status = 404


class CaseForbidden(CaseError):
    code = "case-forbidden"
    status = 403


class CaseConflict(CaseError):
    """Another analyst holds the cluster, or the decision to undo is not the last."""

    code = "case-conflict"
    status = 409


class ClusterStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


@dataclass(frozen=True, slots=True)
class CaseRecord:
    id: int
    name: str
    created_at: datetime
    created_by: str
    scheme: CaseScheme
    banks: tuple[str, ...]
    pdq_threshold: int
    folder: Path

    @classmethod
    def from_row(cls, row: Case) -> CaseRecord:
        categories = json.loads(row.categories)
        scheme = (
            case_scheme("custom", categories) if row.scheme == "custom" else case_scheme(row.scheme)
        )
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            created_by=row.created_by,
            scheme=scheme,
            banks=tuple(json.loads(row.banks)),
            pdq_threshold=row.pdq_threshold,
            folder=Path(row.folder),
        )


def case_named(session: Session, name: str) -> CaseRecord:
    row = session.execute(select(Case).where(Case.name == name)).scalar_one_or_none()
    if row is None:
        raise CaseNotFound(f"no case named {name!r} (see `bastion case list`)")
    return CaseRecord.from_row(row)
