"""The exchanges page: curators see every exchange's state, admins sync from it."""

from __future__ import annotations

from bastion.exchanges import lease
from bastion.exchanges.registry import exchange_row
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.service.conftest import Service
from tests.service.exchanges import PASSWORD, USER, ncmec

__all__ = ["ncmec"]  # the fixture


def _add(service: Service, fake: FakeNcmec, secret: str = f"{USER}:{PASSWORD}") -> None:
    body = {"name": "nc", "api": "ncmec", "bank": "NC", "url": fake.url, "credentials": secret}
    answer = service.client.post("/v1/exchanges", json=body, headers=service.auth("admin"))
    assert answer.status_code == 201, answer.text


def test_curators_see_the_page_without_sync_buttons(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec)
    service.add_user("cura", "curator")
    service.add_user("revi", "reviewer")
    curator, _ = service.log_in("cura")
    assert 'href="/ui/exchanges"' in curator.get("/ui/").text
    page = curator.get("/ui/exchanges")
    assert page.status_code == 200
    assert '<th scope="row">nc' in page.text
    assert "never synced" in page.text
    assert "Sync now" not in page.text
    refused = curator.post("/ui/exchanges/nc/sync", headers={"HX-Request": "true"})
    assert refused.status_code == 403
    reviewer, _ = service.log_in("revi")
    assert 'href="/ui/exchanges"' not in reviewer.get("/ui/").text
    assert reviewer.get("/ui/exchanges", headers={"Accept": "text/html"}).status_code == 403


def test_admins_sync_now_and_see_how_it_ended(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec)
    service.add_user("boss", "admin")
    admin, csrf = service.log_in("boss")
    page = admin.get("/ui/exchanges")
    assert 'hx-post="/ui/exchanges/nc/sync"' in page.text
    assert f'name="csrf_token" value="{csrf}"' in page.text
    without_csrf = admin.post("/ui/exchanges/nc/sync", headers={"HX-Request": "true"})
    assert without_csrf.status_code == 403
    row = admin.post("/ui/exchanges/nc/sync", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert row.status_code == 200
    assert row.text.lstrip().startswith('<tr id="exchange-nc"')
    # The test client ran the background sync before answering; the page shows its end.
    page = admin.get("/ui/exchanges").text
    assert 'class="status-ok">ok<' in page
    assert "added 6" in page
    plain = admin.post("/ui/exchanges/nc/sync", data={"csrf_token": csrf}, follow_redirects=False)
    assert (plain.status_code, plain.headers["location"]) == (303, "/ui/exchanges")
    assert PASSWORD not in page


def test_a_failed_sync_shows_its_error_on_the_page(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec, f"{USER}:not-the-password")
    service.add_user("boss", "admin")
    admin, csrf = service.log_in("boss")
    admin.post("/ui/exchanges/nc/sync", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    error = service.client.get("/v1/exchanges/nc", headers=service.auth("admin")).json()
    assert error["last_error"]
    page = admin.get("/ui/exchanges").text
    assert 'class="status-error">error<' in page
    assert error["last_error"] in page.replace("&#39;", "'").replace("&#34;", '"')


def test_a_busy_exchange_says_so(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec)
    store = service.state.store
    with store.sessions() as session:
        lease.take(store, exchange_row(session, "nc").id, "elsewhere:1:running")
    service.add_user("boss", "admin")
    admin, csrf = service.log_in("boss")
    row = admin.post(
        "/ui/exchanges/nc/sync", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    ).text
    assert "already running" in row
    assert "syncing now" in row
    assert 'hx-trigger="every 2s"' in row
