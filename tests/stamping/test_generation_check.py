"""``POST /v1/generation-check``: allow, block or review, with the reasons.

Term lists are neutral placeholder words; hash lists are built from the
generated test images themselves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bastion.banks import Banks
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.provenance import InspectOptions, inspect_bytes
from bastion.review.vault import Sealed, new_key
from bastion.samples import encode, photo_like
from bastion.signals.types import Signal
from bastion.store import Store
from bastion.store.models import ReviewItem, ReviewUpload
from tests.provenance.test_detector import mean_brightness_model
from tests.service.conftest import Service, start_service
from tests.stamping.conftest import StampCA

TERMS = ["teapot", "marmalade", "bluebird"]
OUTPUT = encode(photo_like(512, 384, seed=51), "PNG")


def _banks(store: Store, *, hashes: list[bytes] = (), terms: list[str] = TERMS) -> None:  # type: ignore[assignment]
    banks = Banks(store, actor="test")
    banks.create("KNOWN")
    known = [Signal("md5", "0" * 31 + "1")] + [Signal("md5", hash_bytes(d).md5) for d in hashes]
    banks.add_signals("KNOWN", known)
    if terms:
        banks.create("PROMPTS")
        banks.add_signals("PROMPTS", [Signal("text", term) for term in terms])


@pytest.fixture
def checking(settings: Settings, stamp_ca: StampCA) -> Iterator[Callable[..., Service]]:
    """A service over banks the test chooses (``hashes``, ``terms``) and settings."""
    services: list[Iterator[Service]] = []

    def start(*, hashes: list[bytes] = [], terms: list[str] = TERMS, **changes: Any) -> Service:  # noqa: B006
        configured = replace(
            settings,
            media_keys=new_key(),
            stamp_cert=stamp_ca.settings.stamp_cert,
            stamp_key=stamp_ca.settings.stamp_key,
            **changes,
        )
        if not services:  # the store is the test's: its banks are made once
            store = Store.open(configured)
            _banks(store, hashes=hashes, terms=terms)
            store.dispose()
        running = start_service(configured)
        services.append(running)
        return next(running)

    yield start
    for running in services:
        for _ in running:
            pass


def _check(service: Service, data: bytes = OUTPUT, **form: str) -> dict[str, Any]:
    answer = service.client.post(
        "/v1/generation-check",
        files={"file": ("out.png", data, "image/png")},
        data=form,
        headers=service.auth("client"),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _kinds(body: dict[str, Any]) -> list[str]:
    return [reason["kind"] for reason in body["reasons"]]


def test_a_clean_output_with_a_clean_prompt_is_allowed_and_stamped(
    checking: Callable[..., Service], stamp_ca: StampCA
) -> None:
    service = checking()

    body = _check(service, prompt="a quiet harbour at dawn", stamp="true", generator="g")

    assert body["verdict"] == "allow"
    assert body["reasons"] == []
    assert body["prompt_screened"] is True
    assert body["queued"] is None
    stamped = base64.b64decode(body["stamped"]["data"])
    seen = inspect_bytes(stamped, "image/png", stamp_ca.trusting(), InspectOptions(watermarks=True))
    assert seen.level == "ai-generated — verified"


def test_a_known_hash_blocks_with_the_match_and_is_queued(
    checking: Callable[..., Service],
) -> None:
    service = checking(hashes=[OUTPUT])

    body = _check(service, prompt="a quiet harbour", stamp="true")

    assert body["verdict"] == "block"
    assert _kinds(body) == ["known-hash"]
    assert body["reasons"][0]["detail"]["bank"] == "KNOWN"
    assert body["stamped"] is None  # only what leaves is stamped
    with service.state.store.sessions() as session:
        item = session.get(ReviewItem, body["queued"])
        assert item is not None
        note = json.loads(item.result)["generation_check"]
    assert note["verdict"] == "block"
    assert [reason["kind"] for reason in note["reasons"]] == ["known-hash"]


@pytest.mark.parametrize(
    ("prompt", "verdict", "kind"),
    [
        ("a TEAPOT on a table", "block", "prompt-term"),
        ("a t.e.a.p.o.t on a table", "block", "prompt-term"),
        ("a teeeapot on a table", "block", "prompt-term"),
        ("a te4p0t on a table", "block", "prompt-term"),
        ("toast with marmelade", "review", "prompt-term-near"),
        ("a teapots shop", "review", "prompt-term-near"),
    ],
)
def test_the_prompt_is_screened_against_the_term_banks(
    checking: Callable[..., Service], prompt: str, verdict: str, kind: str
) -> None:
    service = checking()

    body = _check(service, prompt=prompt)

    assert body["verdict"] == verdict
    assert _kinds(body) == [kind]
    assert body["reasons"][0]["detail"]["bank"] == "PROMPTS"
    assert body["queued"] is not None


def test_what_was_not_checked_is_never_allowed(checking: Callable[..., Service]) -> None:
    no_terms = checking(terms=[])
    body = _check(no_terms, prompt="a quiet harbour")
    assert body["verdict"] == "review"
    assert _kinds(body) == ["prompt-not-screened"]
    assert body["prompt_screened"] is False
    assert _check(no_terms)["verdict"] == "allow"  # no prompt: nothing to screen

    flat = encode(Image.new("RGB", (300, 300), "white"), "PNG")  # PDQ quality 0
    body = _check(no_terms, flat)
    assert body["verdict"] == "review"
    assert _kinds(body) == ["unchecked"]


def test_no_bank_at_all_is_a_reason(checking: Callable[..., Service]) -> None:
    service = checking(terms=[])
    Banks(service.state.store, actor="test").delete("KNOWN")
    service.state.index.refresh()
    assert _kinds(_check(service)) == ["no-hash-banks"]


def test_the_prompt_is_kept_only_when_configured(checking: Callable[..., Service]) -> None:
    for keep, expected in ((0, None), (1, "a TEAPOT on a table")):
        service = checking(check_keep_prompts=keep)
        body = _check(service, prompt="a TEAPOT on a table")
        with service.state.store.sessions() as session:
            uploads = session.query(ReviewUpload).filter_by(item_id=body["queued"])
            upload = uploads.order_by(ReviewUpload.id.desc()).first()  # the same file twice
            assert upload is not None
            assert (upload.context_blob is not None) == (expected is not None)
            if expected is not None:
                sealed = Sealed(upload.context_key_id, upload.context_blob)
                opened = service.state.queue.vault.open(upload.id, sealed, purpose="context")
                assert json.loads(opened)["prompt"] == expected


def test_the_operators_classifier_sends_outputs_to_review(
    checking: Callable[..., Service], tmp_path: Path
) -> None:
    model = mean_brightness_model(tmp_path / "bright.onnx")
    service = checking(check_detector=model, check_detector_threshold=60)

    bright = encode(photo_like(300, 300, seed=1).point(lambda v: min(255, v + 150)), "PNG")
    dark = encode(photo_like(300, 300, seed=1).point(lambda v: v * 3 // 5), "PNG")

    assert _kinds(_check(service, bright)) == ["classifier"]
    assert _check(service, dark)["verdict"] == "allow"
