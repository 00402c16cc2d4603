"""The contract every exchange API keeps, checked against each API's loopback fake.

An API fetches and parses; the sync trusts it for these, whatever the list:

- fetching from nothing to the end, and applying newest-version-wins, gives
  exactly the list's live entries;
- every delta's checkpoint is JSON, and resuming from any of them gives the
  same result (what the sync does after a kill);
- each item's records carry its key, and a deleted item carries one tombstone;
- refused credentials raise ExchangeAuthError, a server that keeps failing
  ExchangeUnavailable, a body that stays broken ExchangeProtocolError, and
  no message holds the secret.

A new API adds a :class:`Case` to ``CASES``.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from bastion.banks import Banks
from bastion.banks.entries import export_entries
from bastion.config import Settings
from bastion.exchanges import url as url_api
from bastion.exchanges.api import Delta, ExchangeApi
from bastion.exchanges.errors import (
    ExchangeAuthError,
    ExchangeProtocolError,
    ExchangeUnavailable,
)
from bastion.exchanges.http import Retrying
from bastion.exchanges.ncmec import NcmecApi
from bastion.exchanges.peer import PeerApi
from bastion.exchanges.stopncii import StopNciiApi
from bastion.exchanges.threatexchange import ThreatExchangeApi
from bastion.exchanges.url import UrlApi
from bastion.fingerprint import Signal
from bastion.store import Store
from tests.exchanges.conftest import Sleeps
from tests.exchanges.fakes.files import FakeFiles
from tests.exchanges.fakes.http import FakeServer
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.exchanges.fakes.stopncii import FakeStopNcii
from tests.exchanges.fakes.threatexchange import PRIVACY_GROUP, FakeThreatExchange
from tests.service.live import live_server


@dataclass(frozen=True)
class Case:
    """An API, its fake, and how to read the fake's truth in the API's keys."""

    api: type[ExchangeApi]
    #: A running fake holding a generated list of about ``size`` rows.
    fake: Callable[[int], AbstractContextManager[Any]]
    secret: Callable[[Any], str]
    wrong_secret: Callable[[Any], str]
    #: The keys a complete sync must hold (in the API's key form).
    live: Callable[[Any], set[str]]
    options: Callable[[Any], dict[str, str]] = lambda fake: {}
    #: Whether the fake is a FakeServer, with its queue of injected faults.
    faults: bool = True


@contextmanager
def _ncmec(size: int) -> Iterator[FakeNcmec]:
    with FakeNcmec(username="user", password="contract-pass-1", page_size=7) as fake:
        fake.generate(size, deletions=0.2, seed=size)
        yield fake


@contextmanager
def _stopncii(size: int) -> Iterator[FakeStopNcii]:
    with FakeStopNcii(subscription_key="sub", function_key="contract-fn-1", page_size=7) as fake:
        fake.generate(size, withdrawn=0.2, seed=size)
        yield fake


@contextmanager
def _threatexchange(size: int) -> Iterator[FakeThreatExchange]:
    with FakeThreatExchange(token="1|contract-pass-te", page_size=7) as fake:
        fake.generate(size, deletions=0.2, seed=size)
        yield fake


def _te_live(fake: FakeThreatExchange) -> set[str]:
    """Live indicators of the types Bastion holds (the others are skipped)."""
    return {key for key, update in fake.live().items() if update["type"] != "HASH_TMK"}


#: The url API's fake publishes a CSV list, its rows with external ids.
_URL_TOKEN = "contract-token-1"


@contextmanager
def _url(size: int) -> Iterator[FakeFiles]:
    rng = random.Random(size)
    lines = ["signal_type,value,labels,external_id"]
    for serial in range(size):
        if rng.random() >= 0.2:  # the rest left the list
            lines.append(f"md5,{rng.getrandbits(128):032x},partner:a,item-{serial}")
    with FakeFiles(token=_URL_TOKEN) as fake, patch.object(url_api, "BATCH", 7):
        fake.publish("/list.csv", "\n".join(lines).encode() + b"\n")
        yield fake


@dataclass(frozen=True)
class _Peer:
    """A Bastion server on loopback, one of whose banks is followed."""

    url: str
    key: str
    store: Store


@contextmanager
def _peer(size: int) -> Iterator[_Peer]:
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), rate_limit=0)
        with live_server(settings) as server:
            banks = Banks(server.state.store, actor="test")
            banks.create("SHARED")
            values = [f"{rng.getrandbits(128):032x}" for _ in range(size)]
            for start in range(0, size, 10):  # changes in several steps, some withdrawn
                banks.add_signals("SHARED", [Signal("md5", v) for v in values[start : start + 10]])
            withdrawn = [Signal("md5", v) for v in values if rng.random() < 0.2]
            banks.withdraw_signals("SHARED", withdrawn)
            key = server.state.accounts.create_key("follower", "client", actor="test")[0]
            yield _Peer(server.url, key, server.state.store)


def _published(fake: FakeFiles) -> set[str]:
    body = b"".join(fake.files["/list.csv"].chunks()).decode()
    return {line.rsplit(",", 1)[1] for line in body.splitlines()[1:] if line}


def _peer_live(peer: _Peer) -> set[str]:
    return {f"md5:{e.signal.value}" for e in export_entries(peer.store, "SHARED")}


CASES = {
    "ncmec": Case(
        api=NcmecApi,
        fake=_ncmec,
        secret=lambda fake: f"{fake.username}:{fake.password}",
        wrong_secret=lambda fake: f"{fake.username}:wrong-contract-pass",
        live=lambda fake: {f"{member}/{entry}" for member, _, entry in fake.live_keys()},
    ),
    "stopncii": Case(
        api=StopNciiApi,
        fake=_stopncii,
        secret=lambda fake: f"{fake.subscription_key},{fake.function_key}",
        wrong_secret=lambda fake: f"{fake.subscription_key},wrong-contract-fn",
        live=lambda fake: {f"{kind}:{value}" for kind, value in fake.live_keys()},
    ),
    "threatexchange": Case(
        api=ThreatExchangeApi,
        fake=_threatexchange,
        secret=lambda fake: fake.token,
        wrong_secret=lambda fake: "1|wrong-contract-token",
        live=_te_live,
        options=lambda fake: {"privacy_group": str(PRIVACY_GROUP)},
    ),
    "url": Case(
        api=UrlApi,
        fake=_url,
        secret=lambda fake: f"bearer:{_URL_TOKEN}",
        wrong_secret=lambda fake: "bearer:wrong-contract-token",
        live=_published,
        faults=False,
    ),
    "bastion": Case(
        api=PeerApi,
        fake=_peer,
        secret=lambda server: server.key,
        wrong_secret=lambda server: "bst_wrong-contract-key",
        live=_peer_live,
        options=lambda server: {"bank": "SHARED", "page_size": "7"},
        faults=False,
    ),
}
#: Words of secrets that no error message may hold.
SECRET_WORDS = (
    "contract-pass-te",
    "contract-pass-1",
    "contract-fn-1",
    "contract-token-1",
    "wrong-contract",
)


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


@pytest.fixture(params=sorted(name for name, case in CASES.items() if case.faults))
def faulty(request: pytest.FixtureRequest) -> Case:
    """The cases whose fake can inject faults (a FakeServer's queue)."""
    return CASES[request.param]


@pytest.fixture
def http() -> Iterator[Retrying]:
    retrying = Retrying(attempts=3, backoff=0.01, timeout=10, sleep=Sleeps())
    yield retrying
    retrying.close()


def client(case: Case, fake: Any, http: Retrying, secret: str | None = None) -> ExchangeApi:
    secret = case.secret(fake) if secret is None else secret
    url = fake.url + "/list.csv" if isinstance(fake, FakeFiles) else fake.url
    return case.api(url, secret, http=http, options=case.options(fake))


def apply(deltas: list[Delta], state: dict[str, tuple[int, bool]] | None = None) -> set[str]:
    """The live keys after applying ``deltas`` as the sync does (newest version wins,
    a deletion wins a tie, a snapshot withdraws what it did not see)."""
    state = {} if state is None else state
    for delta in deltas:
        for item in delta.items:
            assert item.records, f"{item.key}: an item without records"
            assert all(r.external_id == item.key for r in item.records), item.key
            if item.deleted:
                assert len(item.records) == 1, f"{item.key}: a deletion is one tombstone"
                assert item.records[0].withdrawn
            seen = state.get(item.key)
            if seen is None or (item.version, item.deleted) > seen:
                state[item.key] = (item.version, item.deleted)
        if delta.snapshot_version is not None:
            for key, (version, _) in list(state.items()):
                if version < delta.snapshot_version:
                    state[key] = (version, True)
    return {key for key, (_, deleted) in state.items() if not deleted}


def test_a_whole_fetch_gives_exactly_the_live_list(case: Case, http: Retrying) -> None:
    with case.fake(150) as fake:
        deltas = list(client(case, fake, http).fetch(None))
        assert all(not d.rejects for d in deltas)
        assert len(deltas) > 1, "the fake should page"
        for delta in deltas:
            json.dumps(delta.checkpoint)
        assert apply(deltas) == case.live(fake)
        assert sum(d.fetched for d in deltas) >= len(case.live(fake))


def test_resuming_from_any_checkpoint_gives_the_same_list(case: Case, http: Retrying) -> None:
    with case.fake(60) as fake:
        deltas = list(client(case, fake, http).fetch(None))
        expected = case.live(fake)
        for cut in range(len(deltas)):
            state: dict[str, tuple[int, bool]] = {}
            apply(deltas[: cut + 1], state)
            checkpoint = json.loads(json.dumps(deltas[cut].checkpoint))
            resumed = list(client(case, fake, http).fetch(checkpoint))
            assert apply(resumed, state) == expected, f"resumed after delta {cut}"


def test_the_credentials_are_checked_and_refusals_do_not_say_the_secret(
    case: Case, http: Retrying
) -> None:
    with case.fake(5) as fake:
        assert isinstance(client(case, fake, http).check(), str)
        wrong = client(case, fake, http, case.wrong_secret(fake))
        with pytest.raises(ExchangeAuthError) as refused:
            wrong.check()
        with pytest.raises(ExchangeAuthError) as refused_fetch:
            list(wrong.fetch(None))
    for error in (refused.value, refused_fetch.value):
        assert not any(word in str(error) for word in SECRET_WORDS), str(error)


def test_a_server_that_keeps_failing_is_unavailable(faulty: Case, http: Retrying) -> None:
    with faulty.fake(20) as fake:
        server: FakeServer = fake
        server.fail_next(503, times=50, retry_after=0)
        with pytest.raises(ExchangeUnavailable) as failed:
            list(client(faulty, fake, http).fetch(None))
    assert "503" in str(failed.value)


@pytest.mark.parametrize("fault", ["truncate_next", "garble_next"])
def test_a_body_that_stays_broken_is_a_protocol_error(
    faulty: Case, http: Retrying, fault: str
) -> None:
    with faulty.fake(20) as fake:
        getattr(fake, fault)(times=50)
        with pytest.raises(ExchangeProtocolError):
            list(client(faulty, fake, http).fetch(None))


def test_a_broken_body_that_recovers_loses_nothing(faulty: Case, http: Retrying) -> None:
    with faulty.fake(40) as fake:
        fake.truncate_next(times=1)
        fake.garble_next(times=1)
        deltas = list(client(faulty, fake, http).fetch(None))
        assert apply(deltas) == faulty.live(fake)
