"""A sync killed with SIGKILL at random points resumes with no entry lost and
none twice: the bank ends exactly as an uninterrupted sync leaves it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from bastion.banks.entries import export_entries
from bastion.config import Settings
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import sync_exchange
from bastion.store import Store
from bastion.store.models import AuditRecord
from tests.exchanges.conftest import secret_file
from tests.exchanges.fakes.ncmec import FakeNcmec


def contents(store: Store, bank: str) -> set[tuple[str, str, bool, tuple[str, ...]]]:
    return {
        (e.signal.type, e.signal.value, e.withdrawn, e.labels)
        for e in export_entries(store, bank, include_withdrawn=True)
    }


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    rng = random.Random(2026)
    env = {
        **os.environ,
        "BASTION_HOME": str(settings.home),
        "BASTION_DATABASE_URL": settings.store_url,
    }
    with FakeNcmec(username="u", password="p", page_size=40) as fake:
        fake.generate(4000, deletions=0.15, seed=3, start=1_700_000_000)
        credentials = secret_file(tmp_path, "u:p")
        exchanges = Exchanges(store, actor="test")
        for name, bank in (("killed", "KILLED"), ("reference", "REFERENCE")):
            exchanges.add(name, api="ncmec", bank=bank, url=fake.url, credentials=str(credentials))
        assert sync_exchange(store, "reference").status == "ok"

        killed_mid_sync = 0
        last_started = None
        for _ in range(6):
            process = subprocess.Popen(
                [sys.executable, "-m", "bastion", "exchange", "sync", "killed"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.8, 3.0))
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.wait()
            info = exchanges.get("killed")
            # Killed after this run marked itself running (not before it started).
            started = info.last_started_at
            killed_mid_sync += info.last_status == "running" and started != last_started
            last_started = started
        assert killed_mid_sync >= 1, "no run was killed while syncing: lengthen the list"
        final = sync_exchange(store, "killed")
        assert final.status == "ok", final.error
    assert contents(store, "KILLED") == contents(store, "REFERENCE")
    # Every run killed while syncing was audited by the run after it.
    with store.sessions() as session:
        details = session.execute(
            select(AuditRecord.detail).where(AuditRecord.actor == "exchange:killed")
        ).scalars()
        statuses = [json.loads(detail)["status"] for detail in details]
    assert statuses.count("interrupted") == killed_mid_sync
    assert statuses[-1] == "ok"
