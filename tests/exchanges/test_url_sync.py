"""Syncing a bank from a hash list file at a URL (a loopback web server)."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.banks.entries import export_entries
from bastion.exchanges import url as url_api
from bastion.exchanges.errors import ExchangeAuthError, ExchangeConfigError
from bastion.exchanges.http import Retrying
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport
from bastion.exchanges.url import UrlApi
from bastion.formats.vics import CONTEXT_2_0
from bastion.store import Store
from tests.exchanges.conftest import secret_file
from tests.exchanges.fakes.files import FakeFiles

RNG = random.Random(17)
TOKEN = "list-token"


def md5() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(32))


def csv(*rows: str) -> bytes:
    return ("signal_type,value,labels,external_id\n" + "".join(f"{r}\n" for r in rows)).encode()


def row(value: str, external_id: str = "") -> str:
    return f"md5,{value},partner:a,{external_id}"


def active(store: Store, bank: str = "LIST") -> set[str]:
    return {e.signal.value for e in export_entries(store, bank)}


@pytest.fixture
def site() -> Iterator[FakeFiles]:
    with FakeFiles(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def add_url(exchanges: Exchanges, site: FakeFiles, tmp_path: Path) -> Callable[..., str]:
    def add(path: str = "/list.csv", secret: str = f"bearer:{TOKEN}", **options: str) -> str:
        credentials = secret_file(tmp_path, secret)
        exchanges.add(
            "list",
            api="url",
            bank="LIST",
            url=site.url + path,
            credentials=str(credentials),
            options=options,
        )
        return "list"

    return add


def test_conditional_get_answered_304_changes_nothing(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    values = [md5() for _ in range(3)]
    site.publish("/list.csv", csv(*(row(v) for v in values)))
    name = add_url()
    first = run(name)
    assert first.status == "ok", first.error
    assert first.counts["added"] == 3
    assert active(store) == set(values)
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["etag"] == site.files["/list.csv"].etag
    second = run(name)
    assert second.status == "ok", second.error
    _, headers = site.requests[-1]
    assert headers["if-none-match"] == checkpoint["etag"]
    assert headers["if-modified-since"] == checkpoint["last_modified"]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert second.deltas == 1
    assert sum(second.counts.values()) == 0
    assert exchanges.get(name).checkpoint == checkpoint
    assert active(store) == set(values)


def test_a_changed_file_withdraws_what_left_it_and_restores_what_returns(
    site: FakeFiles, add_url: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    a, b, c, d = (md5() for _ in range(4))
    site.publish("/list.csv", csv(row(a), row(b), row(c)))
    name = add_url()
    assert run(name).status == "ok"
    site.publish("/list.csv", csv(row(a), row(c), row(d)))
    changed = run(name)
    assert changed.status == "ok", changed.error
    assert active(store) == {a, c, d}
    assert (changed.counts["added"], changed.counts["withdrawn"]) == (1, 1)
    site.publish("/list.csv", csv(row(b)))
    again = run(name)
    assert again.status == "ok", again.error
    assert active(store) == {b}
    assert (again.counts["restored"], again.counts["withdrawn"]) == (1, 3)


def test_an_items_rows_in_several_deltas_all_apply_and_leave_together(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(url_api, "BATCH", 2)
    item = [md5() for _ in range(3)]
    alone = [md5() for _ in range(3)]
    rows = [row(item[0], "item-1"), row(alone[0]), row(item[1], "item-1"), row(alone[1])]
    site.publish("/list.csv", csv(*rows, row(alone[2]), row(item[2], "item-1")))
    name = add_url()
    first = run(name)
    assert first.status == "ok", first.error
    assert first.deltas == 4  # three of two rows, and the last, that withdraws
    assert active(store) == set(item + alone)
    site.publish("/list.csv", csv(*(row(v) for v in alone)))
    second = run(name)
    assert second.status == "ok", second.error
    assert active(store) == set(alone)


def test_a_body_broken_off_fails_and_keeps_the_checkpoint(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    kept = [md5() for _ in range(200)]
    site.publish("/list.csv", csv(*(row(v) for v in kept)))
    name = add_url()
    assert run(name).status == "ok"
    checkpoint = exchanges.get(name).checkpoint
    site.publish("/list.csv", csv(*(row(v) for v in kept[:10]), row(md5())))
    site.cut_next(times=4)  # every attempt
    broken = run(name)
    assert broken.status == "error"
    assert broken.error_code == "exchange-unavailable"
    assert "broke off" in (broken.error or "")
    assert exchanges.get(name).checkpoint == checkpoint
    assert active(store) == set(kept)
    site.cut_next(times=1)  # once: retried, then whole
    healed = run(name)
    assert healed.status == "ok", healed.error
    assert len(active(store)) == 11


def vics(*media: tuple[int, str]) -> bytes:
    items = [{"MediaID": media_id, "MD5": value, "Category": 1} for media_id, value in media]
    return json.dumps({"@odata.context": CONTEXT_2_0, "value": items}).encode()


def test_a_truncated_document_applies_nothing(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    first = [(n, md5()) for n in range(50)]
    site.publish("/list.json", vics(*first))
    name = add_url("/list.json")
    assert run(name).status == "ok"
    checkpoint = exchanges.get(name).checkpoint
    whole = vics(*[(n, md5()) for n in range(100, 150)])
    site.publish("/list.json", whole[: len(whole) // 2])  # declared complete, cut in half
    broken = run(name)
    assert broken.status == "error"
    assert broken.error_code == "exchange-protocol"
    assert "cannot be read" in (broken.error or "")
    assert exchanges.get(name).checkpoint == checkpoint
    assert active(store) == {value for _, value in first}  # not even the first half added


@pytest.mark.parametrize("body", [b"", b"# no rows\n", b"\x1f\x8b not a list \xff"])
def test_an_empty_or_garbled_list_withdraws_nothing(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    body: bytes,
) -> None:
    kept = [md5() for _ in range(3)]
    site.publish("/list.csv", csv(*(row(v) for v in kept)))
    name = add_url(format="csv")
    assert run(name).status == "ok"
    site.publish("/list.csv", body)
    report = run(name)
    assert report.status == "error"
    assert report.error_code == "exchange-protocol"
    assert active(store) == set(kept)


def test_rejected_rows_withdraw_nothing_and_the_file_is_read_again(
    site: FakeFiles,
    add_url: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    a, b, c = md5(), md5(), md5()
    site.publish("/list.csv", csv(row(a), row(b)))
    name = add_url()
    assert run(name).status == "ok"
    etag = (exchanges.get(name).checkpoint or {})["etag"]
    site.publish("/list.csv", csv(row(a), row(c), "md5,not-a-hash,,"))
    report = run(name)
    assert report.status == "error"
    assert report.error_code == "exchange-rejects"
    assert active(store) == {a, b, c}  # c added; b not withdrawn on a list with bad rows
    assert (exchanges.get(name).checkpoint or {})["etag"] == etag
    site.publish("/list.csv", csv(row(a), row(c)))
    fixed = run(name)
    assert fixed.status == "ok", fixed.error
    assert active(store) == {a, c}


def test_te_and_vics_lists_are_told_by_their_content(
    site: FakeFiles, add_url: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    values = [md5() for _ in range(3)]
    site.publish("/list.txt", "".join(f"md5 {v}\n" for v in values).encode())
    name = add_url("/list.txt")
    report = run(name)
    assert report.status == "ok", report.error
    assert active(store) == set(values)
    with store.sessions():
        externals = {e.external_id for e in export_entries(store, "LIST")}
    assert externals == {f"md5:{v}" for v in values}


def test_a_vics_media_id_is_the_key(
    site: FakeFiles, add_url: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    site.publish("/list.json", vics((7, md5()), (8, md5())))
    report = run(add_url("/list.json"))
    assert report.status == "ok", report.error
    assert {e.external_id for e in export_entries(store, "LIST")} == {"7", "8"}


def test_a_refused_token_is_an_auth_error(
    site: FakeFiles, add_url: Callable[..., str], run: Callable[..., SyncReport]
) -> None:
    site.publish("/list.csv", csv(row(md5())))
    report = run(add_url(secret="bearer:wrong"))
    assert report.status == "error"
    assert report.error_code == "exchange-auth"
    assert "wrong" not in (report.error or "")
    with pytest.raises(ExchangeAuthError):
        UrlApi(site.url + "/list.csv", "bearer:wrong").check()
    assert "bytes" in UrlApi(site.url + "/list.csv", f"bearer:{TOKEN}").check()


def test_a_public_file_needs_none_as_its_credentials() -> None:
    assert UrlApi("http://127.0.0.1:9/x.csv", "none")._headers == {}
    assert UrlApi("http://127.0.0.1:9/x.csv", "basic:user:pa:ss")._auth == ("user", "pa:ss")
    for secret in ("", "user:s3cr3t", "s3cr3t-token-without-scheme", "bearer:", "basic:s3cr3t"):
        with pytest.raises(ExchangeConfigError, match="credentials must be") as refused:
            UrlApi("http://127.0.0.1:9/x.csv", secret)
        assert "s3cr3t" not in str(refused.value)
    with pytest.raises(ExchangeConfigError, match="format"):
        UrlApi("http://127.0.0.1:9/x.csv", "none", options={"format": "ncmec"})
    with pytest.raises(ExchangeConfigError, match="has no option"):
        UrlApi("http://127.0.0.1:9/x.csv", "none", options={"bank": "x"})


def test_a_large_list_is_streamed_not_held_in_memory(site: FakeFiles, http: Retrying) -> None:
    values = [md5() for _ in range(100)]
    padding = b"#" + b"x" * 1022 + b"\n"  # comment lines: bulk that parses fast
    head = "".join(f"md5 {v}\n" for v in values).encode()
    lines = 32 * 1024  # 32 MiB

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(lines // 64):
            yield padding * 64

    site.publish_chunks("/big.txt", chunks, len(head) + lines * len(padding))
    api = UrlApi(site.url + "/big.txt", f"bearer:{TOKEN}", http=http)
    tracemalloc.start()
    try:
        deltas = list(api.fetch(None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {item.key for d in deltas for item in d.items} == {f"md5:{v}" for v in values}
    assert deltas[-1].snapshot_version is not None
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes for a 32 MiB list"
