"""What following a remote hash list costs: first sync, delta sync, memory, bulk import.

Usage:  PYTHONPATH=src:. python bench/exchanges.py [--entries 1000000] [--page-size 1000]
                                                  [--import-lines 10000000]

The fake NCMEC server (tests/exchanges/fakes/ncmec.py) serves ``--entries``
generated entries (10% of them deletions of earlier ones) in pages of
``--page-size``, from a process of its own, so the client measured shares
no interpreter with it.  Each measurement runs in a fresh child process
(its peak resident memory is its own):

  floor     the same pages fetched and parsed by Bastion's NCMEC client, no store
  store     the rows a first sync of as many entries writes, inserted by the same
            batch statements with nothing fetched or merged: the store's own floor
  tx        python-threatexchange's NCMEC ``fetch_iter`` over the same server
  sqlite    Bastion's first sync into a fresh SQLite store
  postgres  Bastion's first sync into a fresh PostgreSQL database (created and
            dropped here; admin URL from BASTION_TEST_POSTGRES_URL)
  delta     then the server adds 0.5% and deletes 0.5% more, and a second sync runs
  memory    the SQLite first sync of 100,000 entries, for peak memory against ``--entries``
  import    ``--import-lines`` random PDQ lines imported from CSV into SQLite

During each first sync and the import a thread of the same process adds one
entry to another bank every 0.5 s; the longest such add is "max wait".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "exchanges"
ADMIN_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/test"
)
USER, PASSWORD = "bench", "bench-secret"
#: Generated timestamps start here and span a minute per entry (see FakeNcmec.generate).
START = 1_600_000_000
#: A deletion comes up to a day after its entry.
DAY = 86_400
SMALL = 100_000
#: Hashes an entry of the generated list carries, on average (each is an
#: entry row and a source row in the bank).
HASHES_PER_ENTRY = 2.6


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the fake server, in a process of its own ------------------------------------------


def _serve(entries: int, page_size: int, deletions: float, pipe: Connection) -> None:
    from tests.exchanges.fakes.ncmec import FakeNcmec

    with FakeNcmec(USER, PASSWORD, page_size) as fake:
        fake.generate(entries, deletions=deletions, seed=entries)
        pipe.send(fake.url)
        while (command := pipe.recv()) is not None:
            start, count = command
            # Half deletions of entries live until now, half new entries.
            rng = random.Random(start)
            images = sorted(key for key in fake.live_keys() if key[1] == "image")
            gone = rng.sample(images, min(len(images), count - count // 2))
            for member, _, entry_id in gone:
                fake.delete_image(member, entry_id, start + rng.randrange(60 * count))
            fake.generate(count // 2, deletions=0.0, seed=start, start=start, videos=0.0)
            pipe.send(len(gone))


@contextmanager
def fake_ncmec(entries: int, page_size: int, deletions: float) -> Iterator[Callable[..., Any]]:
    """The server's URL, and a call that makes it add and delete ``count`` entries."""
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(
        target=_serve, args=(entries, page_size, deletions, theirs), daemon=True
    )
    server.start()
    url = ours.recv()

    def change(start: int, count: int) -> int:
        ours.send((start, count))
        return int(ours.recv())

    change.url = url  # type: ignore[attr-defined]
    try:
        yield change
    finally:
        ours.send(None)
        server.join(10)


# --- what the children measure ---------------------------------------------------------


class Probe:
    """Adds one entry to another bank every 0.5 s; the longest add is the max wait."""

    def __init__(self, store: Any) -> None:
        from bastion.banks import Banks

        self.banks = Banks(store, actor="system:bench-probe")
        self.banks.create("probe")
        self.waits: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from bastion.fingerprint import Signal

        while not self._stop.wait(0.5):
            value = f"{random.getrandbits(128):032x}"
            started = time.perf_counter()
            self.banks.add_signals("probe", [Signal("md5", value)])
            self.waits.append(time.perf_counter() - started)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def result(self) -> dict[str, float]:
        return {"max_wait_s": max(self.waits, default=0.0), "probe_adds": len(self.waits)}


def _api(url: str, clock: float) -> Any:
    from bastion.exchanges.http import Retrying
    from bastion.exchanges.ncmec import NcmecApi

    return NcmecApi(url, f"{USER}:{PASSWORD}", http=Retrying(timeout=120), clock=lambda: clock)


def run_floor(url: str, clock: float) -> dict[str, Any]:
    started = time.perf_counter()
    fetched = sum(delta.fetched for delta in _api(url, clock).fetch(None))
    return {"entries": fetched, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def run_tx(url: str) -> dict[str, Any]:
    try:
        from threatexchange.exchanges.clients.ncmec import hash_api
        from threatexchange.exchanges.impl.ncmec_api import (
            NCMECCollabConfig,
            NCMECSignalExchangeAPI,
        )
    except ImportError:
        return {"missing": True}

    class Local(NCMECSignalExchangeAPI):
        def get_client(self, environment: hash_api.NCMECEnvironment) -> hash_api.NCMECHashAPI:
            client = super().get_client(environment)
            client._base_url = url
            return client

    collab = NCMECCollabConfig(name="bench", environment=hash_api.NCMECEnvironment.test_NGO)
    started = time.perf_counter()
    fetched = 0
    for delta in Local(collab, USER, PASSWORD).fetch_iter([], None):
        fetched += len(delta.updates)
    return {"entries": fetched, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def _store(url: str) -> Any:
    from bastion.store import Store

    return Store.from_url(url)


def run_sync(store_url: str, url: str, clock: float, first: bool) -> dict[str, Any]:
    from bastion.exchanges.registry import Exchanges
    from bastion.exchanges.sync import sync_exchange

    store = _store(store_url)
    if first:
        secret = Path(tempfile.mkdtemp()) / "ncmec.cred"
        secret.write_text(f"{USER}:{PASSWORD}\n")
        secret.chmod(0o600)
        Exchanges(store, actor="system:bench").add(
            "bench", api="ncmec", bank="NCMEC", url=url, credentials=str(secret)
        )
    started = time.perf_counter()
    probe = Probe(store) if first else None
    if probe is not None:
        with probe:
            report = sync_exchange(store, "bench", api=_api(url, clock), read_ahead=True)
    else:
        report = sync_exchange(store, "bench", api=_api(url, clock), read_ahead=True)
    seconds = time.perf_counter() - started
    if report.status != "ok":
        raise SystemExit(f"sync ended {report.status}: {report.error}")
    return {
        "entries": report.fetched,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        **{k: report.counts[k] for k in ("added", "withdrawn", "unchanged")},
        **(probe.result if probe else {}),
    }


def run_import(store_url: str, lines: int) -> dict[str, Any]:
    from bastion.banks import Banks
    from bastion.formats import get_format

    path = CACHE / f"import-{lines}.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        rng = random.Random(lines)
        with path.open("w") as out:
            out.write("signal_type,value,labels\n")
            for _ in range(lines):
                out.write(f"pdq,{rng.getrandbits(256):064x},ncmec:A1\n")
    store = _store(store_url)
    banks = Banks(store, actor="system:bench")
    banks.create("bench")
    started = time.perf_counter()
    with Probe(store) as probe, path.open("rb") as stream:
        report = banks.import_records(
            "bench", get_format("csv").read(stream), source=path.name, format="csv"
        )
    seconds = time.perf_counter() - started
    return {
        "entries": lines,
        "added": report.added,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        **probe.result,
    }


def run_store_floor(store_url: str, entries: int) -> dict[str, Any]:
    """The store's own share of a first sync: the rows such a sync writes for
    ``entries`` entries (HASHES_PER_ENTRY entries and their sources each),
    inserted by Bastion's batch statements with nothing fetched, parsed or
    merged.  No sync into this store can be faster."""
    from datetime import UTC, datetime

    from bastion.banks import Banks
    from bastion.banks.importer import _ENTRY_COLUMNS, _SOURCE_COLUMNS, ENTRIES, SOURCES
    from bastion.store.bulk import insert_rows, new_ids
    from bastion.store.models import LabelSet

    store = _store(store_url)
    bank = Banks(store, actor="system:bench").create("floor").id
    with store.transaction() as session:
        session.add(label_set := LabelSet(labels="ncmec:A1"))
        session.flush()
        labels = label_set.id
    rng = random.Random(entries)
    now = datetime.now(UTC)
    rows = int(entries * HASHES_PER_ENTRY)
    seconds = 0.0
    for start in range(0, rows, 5000):
        count = min(5000, rows - start)
        kinds = (("md5", 128), ("sha1", 160), ("pdq", 256))
        batch = [
            (kind, f"{rng.getrandbits(bits):0{bits // 4}x}", f"42:image:{start + n}")
            for n in range(count)
            for kind, bits in (kinds[n % 3],)
        ]
        started = time.perf_counter()
        with store.transaction() as session:
            seq = store.next_seq(session)
            connection = session.connection()
            ids = new_ids(connection, ENTRIES, count)
            insert_rows(
                connection,
                ENTRIES,
                ("id", *_ENTRY_COLUMNS),
                [
                    (i, bank, kind, value, None, key, labels, now, None, None, seq)
                    for i, (kind, value, key) in zip(ids, batch, strict=True)
                ],
            )
            insert_rows(
                connection,
                SOURCES,
                _SOURCE_COLUMNS,
                [
                    (i, "exchange:floor", key, labels)
                    for i, (_, _, key) in zip(ids, batch, strict=True)
                ],
            )
        seconds += time.perf_counter() - started
    return {"entries": entries, "rows": rows, "seconds": seconds, "peak_mb": peak_mb()}


def child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, __file__, "--run", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- databases -------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"bastion_bench_{os.getpid()}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        yield f"sqlite:///{folder}/bastion.db"


# --- the run ---------------------------------------------------------------------------


def rate(row: dict[str, Any]) -> float:
    return float(row["entries"]) / float(row["seconds"]) if row.get("seconds") else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--deletions", type=float, default=0.1)
    parser.add_argument("--import-lines", type=int, default=0)
    parser.add_argument(
        "--stores", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--no-fetch-iter", action="store_true", help="skip python-threatexchange")
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        kind, *args = options.run
        if kind == "floor":
            result = run_floor(args[0], float(args[1]))
        elif kind == "tx":
            result = run_tx(args[0])
        elif kind == "store":
            result = run_store_floor(args[0], int(args[1]))
        elif kind == "sync":
            result = run_sync(args[0], args[1], float(args[2]), args[3] == "first")
        else:
            result = run_import(args[0], int(args[1]))
        print(json.dumps(result))
        return

    entries = options.entries
    first_clock = START + entries * 60 + 2 * DAY
    delta_count = max(entries // 100, 2)
    delta_clock = first_clock + 1 + delta_count * 60 * 2 + 2 * DAY
    rows: dict[str, dict[str, Any]] = {}

    def show(name: str, row: dict[str, Any]) -> None:
        rows[name] = row
        print(f"{name:<16} {json.dumps(row)}", flush=True)

    print(f"== {entries:,} entries, pages of {options.page_size:,}", flush=True)
    with fake_ncmec(entries, options.page_size, options.deletions) as change:
        url = change.url  # type: ignore[attr-defined]
        show("floor", child("floor", url, str(first_clock)))
        if not options.no_fetch_iter:
            show("tx fetch_iter", child("tx", url))
        databases = {"sqlite": sqlite_database, "postgres": postgres_database}
        stores = [name for name in databases if name in options.stores]
        for name in stores:
            with databases[name]() as empty:
                show(f"{name} store floor", child("store", empty, str(entries)))
        with contextlib.ExitStack() as opened:
            urls = {name: opened.enter_context(databases[name]()) for name in stores}
            for name in stores:
                show(f"{name} first", child("sync", urls[name], url, str(first_clock), "first"))
            changed = change(first_clock + 1, delta_count)
            print(f"   the server adds {delta_count // 2:,} and deletes {changed:,}", flush=True)
            for name in stores:
                show(f"{name} delta", child("sync", urls[name], url, str(delta_clock), "delta"))
    if entries > SMALL and "sqlite" in stores:
        small_clock = START + SMALL * 60 + 2 * DAY
        with (
            fake_ncmec(SMALL, options.page_size, options.deletions) as small,
            sqlite_database() as sqlite,
        ):
            small_url = small.url  # type: ignore[attr-defined]
            show(
                f"sqlite first {SMALL // 1000}k",
                child("sync", sqlite, small_url, str(small_clock), "first"),
            )
    if options.import_lines:
        with sqlite_database() as sqlite:
            show("sqlite import", child("import", sqlite, str(options.import_lines)))
    report(rows, entries)


def report(rows: dict[str, dict[str, Any]], entries: int) -> None:
    floor = rate(rows["floor"])
    tx = rows.get("tx fetch_iter", {"missing": True})
    print()
    if tx.get("missing"):
        print("no fetch_iter comparison (python-threatexchange skipped or not installed)")
    for backend, need in (("postgres", 0.5), ("sqlite", 0.3)):
        if f"{backend} first" not in rows:
            continue
        first = rate(rows[f"{backend} first"])
        verdict = "ok" if first / floor >= need else "BELOW"
        line = f"{backend} first sync / floor = {first / floor:.2f}x"
        line += f" (required >= {need}x: {verdict})"
        line += f"; the store alone allows {rate(rows[f'{backend} store floor']) / floor:.2f}x"
        if not tx.get("missing"):
            line += f"; / fetch_iter = {first / rate(tx):.2f}x"
        print(line)
    print()
    print("| measurement | entries | seconds | entries/s | vs floor | peak MB | max wait s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        if row.get("missing"):
            print(f"| {name} | not installed | | | | | |")
            continue
        print(
            f"| {name} | {row['entries']:,} | {row['seconds']:.1f} | {rate(row):,.0f} | "
            f"{rate(row) / floor:.2f}x | {row.get('peak_mb', 0):.0f} | "
            f"{row.get('max_wait_s', float('nan')):.2f} |"
        )
    if "sqlite import" in rows:
        minutes = rows["sqlite import"]["seconds"] / 60
        verdict = "ok" if minutes <= 10 else "ABOVE"
        lines = rows["sqlite import"]["entries"]
        print(f"\nimport of {lines:,} lines: {minutes:.1f} minutes (required <= 10: {verdict})")


if __name__ == "__main__":
    main()
