"""A bank following another Bastion's bank: a real Bastion served on loopback (A), and
the store under test (B, on SQLite and PostgreSQL) syncing from A's changes feed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.banks import Banks
from bastion.banks.entries import export_entries
from bastion.config import Settings
from bastion.exchanges.errors import ExchangeAuthError, ExchangeConfigError
from bastion.exchanges.http import Retrying
from bastion.exchanges.peer import PeerApi, _page
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport, sync_exchange
from bastion.fingerprint import Signal
from bastion.formats.records import FormatError
from bastion.review.vault import new_key
from bastion.store import Store
from tests.exchanges.conftest import secret_file
from tests.service.live import LiveServer, live_server

RNG = random.Random(23)


def md5() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(32))


def signals(*values: str) -> list[Signal]:
    return [Signal("md5", value) for value in values]


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path / "peer", media_keys=new_key(), rate_limit=0)
    with live_server(settings) as server:
        Banks(server.state.store, actor="test").create("SHARED")
        yield server


@pytest.fixture
def peer_banks(peer: LiveServer) -> Banks:
    return Banks(peer.state.store, actor="test")


def key_of(peer: LiveServer, role: str = "client") -> str:
    key: str = peer.state.accounts.create_key(f"{role}-follower", role, actor="test")[0]
    return key


@pytest.fixture
def follow(exchanges: Exchanges, peer: LiveServer, tmp_path: Path) -> Callable[..., str]:
    def add(key: str | None = None) -> str:
        credentials = secret_file(tmp_path, key or key_of(peer))
        exchanges.add(
            "peer",
            api="bastion",
            bank="FOLLOWER",
            url=peer.url,
            credentials=str(credentials),
            options={"bank": "SHARED"},
        )
        return "peer"

    return add


def active(store: Store) -> dict[str, tuple[str, ...]]:
    return {e.signal.value: e.labels for e in export_entries(store, "FOLLOWER")}


def test_adds_and_withdrawals_flow_from_the_peer(
    peer: LiveServer,
    peer_banks: Banks,
    follow: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    a, b, c, d = (md5() for _ in range(4))
    peer_banks.add_signals("SHARED", signals(a, b), ["partner:x"])
    peer_banks.add_signals("SHARED", signals(c))
    name = follow()
    first = run(name)
    assert first.status == "ok", first.error
    assert active(store) == {a: ("partner:x",), b: ("partner:x",), c: ()}
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["after"]

    peer_banks.withdraw_signals("SHARED", signals(b))
    peer_banks.add_signals("SHARED", signals(d))
    peer_banks.add_signals("SHARED", signals(a), ["partner:y"])
    second = run(name)
    assert second.status == "ok", second.error
    assert set(active(store)) == {a, c, d}
    peer_labels = {e.signal.value: e.labels for e in export_entries(peer.state.store, "SHARED")}
    assert active(store)[a] == peer_labels[a] == ("partner:y",)  # relabelled by the same source
    assert (second.counts["added"], second.counts["withdrawn"]) == (1, 1)

    caught_up = exchanges.get(name).checkpoint
    assert caught_up != checkpoint
    quiet = run(name)
    assert quiet.status == "ok", quiet.error
    assert quiet.fetched == 0
    assert exchanges.get(name).checkpoint == caught_up

    peer_banks.add_signals("SHARED", signals(b))  # restored on the peer
    assert run(name).status == "ok"
    assert set(active(store)) == {a, b, c, d}


def test_pages_are_followed_to_the_end(
    peer: LiveServer,
    peer_banks: Banks,
    follow: Callable[..., str],
    store: Store,
    http: Retrying,
) -> None:
    values = [md5() for _ in range(7)]
    peer_banks.add_signals("SHARED", signals(*values[:5]))  # one seq, split over pages
    peer_banks.withdraw_signals("SHARED", signals(values[0]))
    peer_banks.add_signals("SHARED", signals(*values[5:]))
    name = follow(key := key_of(peer))
    api = PeerApi(peer.url, key, http=http, options={"bank": "SHARED", "page_size": "2"})
    report = sync_exchange(store, name, http=http, api=api)
    assert report.status == "ok", report.error
    assert report.deltas == 4
    assert report.fetched == 7
    assert set(active(store)) == set(values[1:])


def test_a_wrong_key_is_an_auth_error(
    peer: LiveServer, follow: Callable[..., str], run: Callable[..., SyncReport]
) -> None:
    wrong = "bst_" + "0" * 40
    with pytest.raises(ExchangeAuthError):
        PeerApi(peer.url, wrong, options={"bank": "SHARED"}).check()
    report = run(follow(wrong))
    assert report.status == "error"
    assert report.error_code == "exchange-auth"
    assert wrong not in (report.error or "")


def test_a_key_without_bank_read_access_is_an_auth_error(peer: LiveServer) -> None:
    reviewer = key_of(peer, "reviewer")
    with pytest.raises(ExchangeAuthError):
        PeerApi(peer.url, reviewer, options={"bank": "SHARED"}).check()


def test_check_names_the_peers_bank(peer: LiveServer, peer_banks: Banks) -> None:
    peer_banks.add_signals("SHARED", signals(md5(), md5()))
    api = PeerApi(peer.url, key_of(peer), options={"bank": "SHARED"})
    assert api.check() == "bank SHARED (2 active entries)"


def test_an_unknown_peer_bank_fails_the_sync(
    peer: LiveServer, store: Store, http: Retrying, follow: Callable[..., str]
) -> None:
    name = follow(key := key_of(peer))
    api = PeerApi(peer.url, key, http=http, options={"bank": "NOWHERE"})
    report = sync_exchange(store, name, http=http, api=api)
    assert report.status == "error"
    assert report.error_code == "exchange-protocol"
    assert "404" in (report.error or "")


def test_the_bank_option_is_required() -> None:
    with pytest.raises(ExchangeConfigError, match="bank=NAME"):
        PeerApi("http://127.0.0.1:9", "bst_key")
    with pytest.raises(ExchangeConfigError, match="has no option"):
        PeerApi("http://127.0.0.1:9", "bst_key", options={"bank": "B", "format": "csv"})
    with pytest.raises(ExchangeConfigError, match="credentials must be"):
        PeerApi("http://127.0.0.1:9", "two words", options={"bank": "B"})


def test_a_page_cut_short_is_refused() -> None:
    line = b'{"seq": 3, "id": 1, "op": "add", "signal_type": "md5", "value": "x"}\n'
    end = b'{"op": "end", "next": "3.1", "more": false}\n'
    assert _page(line + end)[1]["next"] == "3.1"
    for body in (line, b"", line + end[:20], b"not json\n" + end):
        with pytest.raises(FormatError):
            _page(body)
