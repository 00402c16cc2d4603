"""A case built from benign evidence, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.accounts import Accounts, Principal, Role
from bastion.cases.records import CaseRecord
from bastion.config import Settings
from bastion.store import Store
from tests.cases.evidence import (
    Evidence,
    bank_evidence,
    new_case,
    scan_into_case,
    write_evidence,
)
from tests.provenance.test_c2pa_signing import SigningCA, _pem, make_ca


@pytest.fixture(scope="session")
def ca() -> SigningCA:
    return make_ca("Case tests")


@pytest.fixture
def case_settings(settings: Settings, tmp_path: Path, ca: SigningCA) -> Settings:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(_pem(ca.root))
    return Settings(home=settings.home, database_url=settings.database_url, trust_anchors=anchors)


@dataclass
class Built:
    store: Store
    settings: Settings
    case: CaseRecord
    evidence: Evidence


@pytest.fixture
def built(store: Store, case_settings: Settings, tmp_path: Path, ca: SigningCA) -> Built:
    evidence = write_evidence(tmp_path / "evidence", ca)
    bank_evidence(store, evidence)
    case = new_case(store, tmp_path)
    scan_into_case(store, case_settings, case, [evidence.folder])
    return Built(store, case_settings, case, evidence)


def analyst(store: Store, name: str, role: str = "reviewer") -> Principal:
    info = Accounts(store).add_user(name, role, "a long placeholder password", actor="test")
    return Principal("user", info.id, name, Role(role))
