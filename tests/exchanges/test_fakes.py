"""The fake exchanges behave as documented: the tests of Bastion's exchange clients lean on
every fault and quirk here actually happening."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from tests.exchanges.fakes import FakeNcmec, FakeStopNcii
from tests.exchanges.fakes.ncmec import LINK, NAMESPACE, iso

NS = f"{{{NAMESPACE}}}"
EVER = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
T0 = 1_700_000_000
PDQ = "f" * 64
STOPNCII_KEYS = {"Ocp-Apim-Subscription-Key": "sub", "x-functions-key": "fn"}


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    with FakeNcmec(page_size=2) as fake:
        yield fake


# Clients live for the session: building one loads the CA bundle, which takes longer
# than most of these tests.
@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(auth=("user", "secret"), timeout=5) as http:
        yield http


@pytest.fixture(scope="session")
def anon() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


@pytest.fixture
def stopncii() -> Iterator[FakeStopNcii]:
    with FakeStopNcii(page_size=2) as fake:
        yield fake


@pytest.fixture(scope="session")
def keyed() -> Iterator[httpx.Client]:
    with httpx.Client(headers=STOPNCII_KEYS, timeout=5) as http:
        yield http


def entries(client: httpx.Client, fake: FakeNcmec, **window: str) -> httpx.Response:
    return client.get(f"{fake.url}/v2/entries", params=window or EVER)


def entry_elements(response: httpx.Response) -> list[ET.Element]:
    """Every element inside <images> and <videos>, in served order (images first)."""
    root = ET.fromstring(response.content)
    return [element for section in root for element in section if section.tag != f"{NS}paging"]


def next_link(response: httpx.Response) -> str | None:
    found = ET.fromstring(response.content).find(f"{NS}paging/{NS}next")
    return None if found is None else found.text


def ids(response: httpx.Response) -> list[str]:
    return [element.findtext(f"{NS}id") or "" for element in entry_elements(response)]


def all_pages(client: httpx.Client, fake: FakeNcmec) -> list[httpx.Response]:
    pages = [entries(client, fake).raise_for_status()]
    while (link := next_link(pages[-1])) is not None:
        pages.append(client.get(fake.url + link).raise_for_status())
    return pages


# --- NCMEC: authentication and status ------------------------------------------------


@pytest.mark.parametrize("auth", [None, ("user", "wrong"), ("other", "secret")])
def test_ncmec_refuses_wrong_or_missing_credentials(
    ncmec: FakeNcmec, anon: httpx.Client, auth
) -> None:
    for path in ("/v2/status", "/v2/entries"):
        response = anon.get(ncmec.url + path, params=EVER, auth=auth)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_ncmec_status_says_who_the_caller_is(client: httpx.Client) -> None:
    with FakeNcmec(member_id=7, member_name="member seven") as fake:
        assert fake.url.endswith("/hashsharing")
        response = client.get(f"{fake.url}/v2/status").raise_for_status()
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}status"
    assert root.findtext(f"{NS}username") == "user"
    assert root.findtext(f"{NS}ipAddress") == "127.0.0.1"
    member = root.find(f"{NS}member")
    assert member is not None
    assert (member.get("id"), member.text) == ("7", "member seven")
    assert fake.requests[-1].path == "/hashsharing/v2/status"
    assert fake.requests[-1].headers["authorization"].startswith("Basic ")


# --- NCMEC: the entries document -----------------------------------------------------


def test_ncmec_entries_render_as_documented(client: httpx.Client) -> None:
    with FakeNcmec() as fake:
        fake.add_image(42, "alpha", T0, fingerprints={"md5": "a" * 32, "pdq": PDQ})
        fake.add_video(42, "beta", T0 + 5, classification=None, fingerprints={"tmk-pdqf": LINK})
        fake.add_image(43, "alpha", T0 + 9, fingerprints={"sha1": "b" * 40})  # same id
        fake.delete_image(42, "gamma", T0 + 3)
        response = entries(client, fake).raise_for_status()
    root = ET.fromstring(response.content)
    images, videos = root.find(f"{NS}images"), root.find(f"{NS}videos")
    assert images is not None
    assert videos is not None
    assert (images.get("count"), images.get("maxTimestamp")) == ("3", iso(T0 + 9))
    assert (videos.get("count"), videos.get("maxTimestamp")) == ("1", iso(T0 + 5))
    first, second, deleted = images
    assert first.findtext(f"{NS}classification") == "A1"
    assert first.findtext(f"{NS}timestamp") == "2023-11-14T22:13:20Z"
    assert first.findtext(f"{NS}fingerprints/{NS}pdq") == PDQ
    assert [first.find(f"{NS}member").get("id"), second.find(f"{NS}member").get("id")] == [
        "42",
        "43",
    ]
    assert first.findtext(f"{NS}id") == second.findtext(f"{NS}id") == "alpha"
    assert deleted.tag == f"{NS}deletedImage"
    assert deleted.findtext(f"{NS}id") == "gamma"
    (video,) = videos
    assert video.find(f"{NS}classification") is None
    link = video.find(f"{NS}fingerprints/{NS}tmk-pdqf")
    assert link is not None
    assert link.attrib == {"rel": "self", "href": "/v2/entries/beta/fingerprints/TMK_PDQF"}
    assert root.find(f"{NS}paging") is None


def test_ncmec_raw_fragments_are_served_verbatim(client: httpx.Client) -> None:
    with FakeNcmec() as fake:
        fake.add_raw("<hologram><id>delta</id></hologram>", T0, "video")
        response = entries(client, fake).raise_for_status()
    assert b'<videos count="1"' in response.content
    assert b"<hologram><id>delta</id></hologram></videos>" in response.content


def test_ncmec_window_includes_from_and_excludes_to(client: httpx.Client) -> None:
    with FakeNcmec() as fake:
        for offset in (-1, 0, 1, 9, 10):
            fake.add_image(1, f"at{offset}", T0 + offset, fingerprints={"pdq": PDQ})
        window = {"from": iso(T0), "to": iso(T0 + 10).replace("Z", ".000Z")}
        response = entries(client, fake, **window).raise_for_status()
        assert ids(response) == ["at0", "at1", "at9"]
        assert entries(client, fake, **{"from": iso(T0)}).status_code == 400


# --- NCMEC: paging -------------------------------------------------------------------


def test_ncmec_serves_in_stored_order_not_time_order(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    for n, offset in enumerate((50, 40, 30, 20, 10)):
        ncmec.add_image(1, f"e{n}", T0 + offset, fingerprints={"pdq": PDQ})
    pages = all_pages(client, ncmec)
    assert [ids(page) for page in pages] == [["e0", "e1"], ["e2", "e3"], ["e4"]]
    first_max = ET.fromstring(pages[0].content).find(f"{NS}images").get("maxTimestamp")
    assert first_max == iso(T0 + 50)  # the first page already holds the newest entry


def test_ncmec_next_link_is_relative_escaped_and_bound_to_its_window(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    for n in range(5):
        ncmec.add_image(1, f"e{n}", T0 + n, fingerprints={"pdq": PDQ})
    first = entries(client, ncmec)
    assert b"&amp;start=3&amp;size=2&amp;max=5</next>" in first.content
    link = next_link(first)
    assert link is not None
    assert link.startswith("/v2/entries?from=1970-01-01T00%3A00%3A00.000Z&to=")
    assert client.get(ncmec.url + link).status_code == 200
    other_window = link.replace("to=2100", "to=2099")
    assert client.get(ncmec.url + other_window).status_code == 400
    assert client.get(ncmec.url + link.replace("start=3", "start=4")).status_code == 400
    assert client.get(ncmec.url + link.replace("size=2", "size=3")).status_code == 400


def test_ncmec_pages_come_from_a_snapshot_of_the_window(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    for n in range(3):
        ncmec.add_image(1, f"e{n}", T0 + n, fingerprints={"pdq": PDQ})
    first = entries(client, ncmec)
    ncmec.add_image(1, "late", T0 - 1, fingerprints={"pdq": PDQ})
    second = client.get(ncmec.url + next_link(first))
    assert ids(second) == ["e2"]
    assert next_link(second) is None
    assert [ids(page) for page in all_pages(client, ncmec)] == [["e0", "e1"], ["e2", "late"]]
    # The fresh query replaced the window's snapshot: links of the old one are refused.
    assert client.get(ncmec.url + next_link(first)).status_code == 400


def test_ncmec_next_links_expire(ncmec: FakeNcmec, client: httpx.Client) -> None:
    for n in range(3):
        ncmec.add_image(1, f"e{n}", T0 + n, fingerprints={"pdq": PDQ})
    link = next_link(entries(client, ncmec))
    ncmec.expire_next_links()
    refused = client.get(ncmec.url + link)
    assert refused.status_code == 400
    assert ET.fromstring(refused.content).tag == f"{NS}error"

    ncmec.next_link_ttl = 0.05
    link = next_link(entries(client, ncmec))
    time.sleep(0.1)
    assert client.get(ncmec.url + link).status_code == 400


def test_ncmec_never_ending_paging_repeats_the_last_page(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    for n in range(3):
        ncmec.add_image(1, f"e{n}", T0 + n, fingerprints={"pdq": PDQ})
    ncmec.never_ending_paging = True
    response = entries(client, ncmec)
    for _ in range(3):
        response = client.get(ncmec.url + next_link(response)).raise_for_status()
        assert ids(response) == ["e2"]


def test_ncmec_generated_entries_page_through_completely(client: httpx.Client) -> None:
    with FakeNcmec() as fake:
        fake.generate(1000, deletions=0.2, seed=3)
        fake.page_size = 100
        pages = all_pages(client, fake)
    assert len(pages) == 10
    served = [element for page in pages for element in entry_elements(page)]
    assert len(served) == len(fake) == 1000
    timestamps = [element.findtext(f"{NS}timestamp") for element in served]
    assert timestamps != sorted(timestamps)
    latest: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for element in served:
        tag = element.tag.removeprefix(NS)
        kind = tag.removeprefix("deleted").lower()
        key = (element.find(f"{NS}member").get("id"), kind, element.findtext(f"{NS}id"))
        record = (element.findtext(f"{NS}timestamp"), tag.startswith("deleted"))
        assert record[1] or element.findtext(f"{NS}fingerprints/{NS}md5")
        latest[key] = max(latest.get(key, record), record)
    live = {(int(m), kind, i) for (m, kind, i), (_, gone) in latest.items() if not gone}
    assert live == fake.live_keys()
    assert 500 < len(live) < 700  # a fifth of the entries delete one of the other 800


def test_ncmec_live_keys_let_a_deletion_win_a_tie() -> None:
    fake = FakeNcmec()
    fake.add_image(1, "alpha", T0, fingerprints={"pdq": PDQ})
    fake.delete_image(1, "alpha", T0)
    fake.add_image(2, "alpha", T0, fingerprints={"pdq": PDQ})
    fake.delete_image(3, "beta", T0 + 1)
    fake.add_image(3, "beta", T0 + 2, fingerprints={"pdq": PDQ})
    assert fake.live_keys() == {(2, "image", "alpha"), (3, "image", "beta")}


# --- faults (shared plumbing) --------------------------------------------------------


def test_fail_next_answers_with_status_and_retry_after(
    ncmec: FakeNcmec, client: httpx.Client, anon: httpx.Client
) -> None:
    ncmec.fail_next(429, times=2, retry_after=1.5)
    ncmec.fail_next(503)
    assert anon.get(f"{ncmec.url}/v2/entries", params=EVER).status_code == 401  # no fault
    assert client.get(f"{ncmec.url}/v2/status").status_code == 200  # not a data request
    failures = [entries(client, ncmec) for _ in range(3)]
    assert [(r.status_code, r.headers.get("Retry-After")) for r in failures] == [
        (429, "1.5"),
        (429, "1.5"),
        (503, None),
    ]
    assert entries(client, ncmec).status_code == 200
    assert [log.path.split("?")[0] for log in ncmec.requests] == [
        "/hashsharing/v2/entries",
        "/hashsharing/v2/status",
        *["/hashsharing/v2/entries"] * 4,
    ]


def test_fail_next_sends_retry_after(ncmec: FakeNcmec, client: httpx.Client) -> None:
    ncmec.fail_next(429, retry_after=2, body="slow down")
    response = entries(client, ncmec)
    assert (response.status_code, response.headers["Retry-After"], response.text) == (
        429,
        "2",
        "slow down",
    )


def test_faults_reach_the_status_endpoint_only_when_asked(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    ncmec.faults_on_every_path = True
    ncmec.fail_next(500)
    assert client.get(f"{ncmec.url}/v2/status").status_code == 500


def test_truncated_xml_is_delivered_whole_but_does_not_parse(
    ncmec: FakeNcmec, client: httpx.Client
) -> None:
    ncmec.add_image(1, "alpha", T0, fingerprints={"pdq": PDQ})
    whole = entries(client, ncmec).content
    ncmec.truncate_next()
    response = entries(client, ncmec)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content == whole[: len(whole) // 2]
    with pytest.raises(ET.ParseError):
        ET.fromstring(response.content)


def test_garbled_body_is_neither_xml_nor_json(
    ncmec: FakeNcmec, stopncii: FakeStopNcii, client: httpx.Client, keyed: httpx.Client
) -> None:
    ncmec.garble_next()
    response = entries(client, ncmec)
    assert response.status_code == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(response.content)
    stopncii.garble_next()
    response = keyed.get(f"{stopncii.url}/FetchHashes")
    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|decode"):
        json.loads(response.content)


def test_a_bug_inside_a_fake_fails_the_test_at_exit(client: httpx.Client) -> None:
    fake = FakeNcmec()
    fake.add_raw("<image/>", T0, "audio")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="KeyError"), fake:
        assert entries(client, fake).status_code == 500


# --- StopNCII ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Ocp-Apim-Subscription-Key": "sub"},
        {"x-functions-key": "fn"},
        {**STOPNCII_KEYS, "x-functions-key": "no"},
    ],
)
def test_stopncii_requires_both_keys(
    stopncii: FakeStopNcii, anon: httpx.Client, headers: dict[str, str]
) -> None:
    assert anon.get(f"{stopncii.url}/FetchHashes", headers=headers).status_code == 401


def test_stopncii_serves_records_by_timestamp_from_start(
    stopncii: FakeStopNcii, keyed: httpx.Client
) -> None:
    assert stopncii.url.endswith("/v1")
    stopncii.add("c" * 64, timestamp=T0 + 30, extra={"hashRegions": ["UK"]})
    stopncii.add("a" * 64, timestamp=T0 + 10, status="Received")
    stopncii.add("b" * 32, timestamp=T0 + 20, signal_type="VideoMD5")
    stopncii.add("z" * 64, timestamp=T0 - 1)
    url = f"{stopncii.url}/FetchHashes"
    page = keyed.get(url, params={"startTimestamp": T0, "pageSize": 5}).raise_for_status().json()
    assert set(page) == {
        "count",
        "hashRecords",
        "nextPageToken",
        "nextSetTimestamp",
        "hasMoreRecords",
    }
    assert (page["count"], page["hasMoreRecords"]) == (2, True)
    assert isinstance(page["nextPageToken"], str)
    first, second = page["hashRecords"]
    assert first["hashValue"] == "a" * 64
    assert first["hashStatus"] == "Received"
    assert list(first["caseNumbers"].values()) == ["Received"]
    assert (second["signalType"], second["lastModtimestamp"]) == ("VideoMD5", T0 + 20)
    assert page["nextSetTimestamp"] == T0 + 30
    last = keyed.get(url, params={"nextPageToken": page["nextPageToken"]}).json()
    assert (last["count"], last["hasMoreRecords"], last["nextPageToken"]) == (1, False, None)
    assert last["hashRecords"][0]["hashRegions"] == ["UK"]
    assert last["nextSetTimestamp"] == T0 + 30


def test_stopncii_replaces_a_record_added_again(
    stopncii: FakeStopNcii, keyed: httpx.Client
) -> None:
    stopncii.add("a" * 64, timestamp=T0)
    stopncii.add("b" * 64, timestamp=T0 + 1)
    stopncii.add("a" * 64, timestamp=T0 + 2, status="Withdrawn")
    page = keyed.get(f"{stopncii.url}/FetchHashes", params={"startTimestamp": 0}).json()
    assert len(stopncii) == 2
    assert [(r["hashValue"][0], r["hashStatus"]) for r in page["hashRecords"]] == [
        ("b", "Active"),
        ("a", "Withdrawn"),
    ]
    assert stopncii.live_keys() == {("ImagePDQ", "b" * 64)}


def test_stopncii_refuses_a_token_it_did_not_issue(
    stopncii: FakeStopNcii, keyed: httpx.Client
) -> None:
    response = keyed.get(f"{stopncii.url}/FetchHashes", params={"nextPageToken": "bm9wZQ=="})
    assert response.status_code == 400


def test_stopncii_faults_and_truncation(stopncii: FakeStopNcii, keyed: httpx.Client) -> None:
    stopncii.add("a" * 64, timestamp=T0)
    stopncii.fail_next(429, retry_after=3)
    stopncii.truncate_next()
    url = f"{stopncii.url}/FetchHashes"
    throttled = keyed.get(url)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    truncated = keyed.get(url)
    assert truncated.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)
    assert keyed.get(url).json()["count"] == 1


def test_stopncii_generated_records_page_through_completely(keyed: httpx.Client) -> None:
    with FakeStopNcii(page_size=100) as fake:
        fake.generate(1000, withdrawn=0.3, seed=5)
        records, params, pages = [], {"startTimestamp": 0, "pageSize": 1000}, 0
        while True:
            page = keyed.get(f"{fake.url}/FetchHashes", params=params).raise_for_status().json()
            pages += 1
            assert page["count"] == len(page["hashRecords"])
            records.extend(page["hashRecords"])
            if not page["hasMoreRecords"]:
                break
            params["nextPageToken"] = page["nextPageToken"]
    assert (pages, len(records), len(fake)) == (10, 1000, 1000)
    stamps = [record["lastModtimestamp"] for record in records]
    assert stamps == sorted(stamps)
    live = {(r["signalType"], r["hashValue"]) for r in records if r["hashStatus"] == "Active"}
    assert live == fake.live_keys()
    assert 600 < len(live) < 800
    assert {r["signalType"] for r in records} == {"ImagePDQ", "VideoMD5"}
