"""Every door gives the same answer for the same file.

The same inputs go through ``bastion scan``, ``bastion match``,
``POST /v1/scan``, ``POST /v1/match/upload`` and HMA's ``POST /m/lookup``,
and each door's matches - bank, entry, signal type, distance - must equal
the scan's, wherever the door can say them (HMA names no entry ids and
hashes only the signal types its deployment uses; it opens no archives).
``tests/scan/test_ray.py`` does this for the two scan engines.
"""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance
from PIL.PngImagePlugin import PngInfo
from typer.testing import CliRunner

from bastion.banks import BankKind, Banks
from bastion.cli import app
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.hashing import hash_bytes
from bastion.samples import encode, encode_video, panning_frames, photo_like
from bastion.service.app import create_app
from bastion.service.state import ServiceState
from bastion.store import Store

#: One match as every door can say it: bank, entry id (None where the door
#: names none), signal type, distance.
Found = tuple[str, int | None, str, int]


@dataclass(frozen=True)
class Said:
    """What one door said of one input: matches by item (an archive member's
    name, or "" for the file itself), suppressed matches, and whether it
    reported the input as not checked (an error)."""

    matches: dict[str, frozenset[Found]]
    suppressed: frozenset[Found] = frozenset()
    error: bool = False


def _banked_frame_video() -> tuple[bytes, bytes]:
    frames = list(panning_frames(160, 120, 40, fps=10, scene_seconds=2, seed=70))
    return encode_video(frames, fps=10), encode(Image.fromarray(frames[20]), "PNG")


def _model_png(model_sha256: str) -> bytes:
    """A generated PNG whose metadata names the model it was made with, by hash."""
    image = photo_like(96, 64, seed=81)
    buffer = io.BytesIO()
    info = PngInfo()
    info.add_text("invokeai_metadata", json.dumps({"model": {"name": "m", "hash": model_sha256}}))
    image.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


@dataclass
class World:
    """A store with banks, the inputs, and what the reference door (scan) said."""

    home: Path
    folder: Path
    inputs: dict[str, bytes]
    settings: Settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("doors")
    settings = Settings(home=root / "home")
    banked = encode(photo_like(256, 192, seed=61), "PNG")
    edited_image = ImageEnhance.Brightness(Image.open(io.BytesIO(banked))).enhance(1.08)
    edited = encode(edited_image.convert("RGB"), "JPEG", quality=90)
    allowed = encode(photo_like(256, 192, seed=62), "PNG")
    video, frame = _banked_frame_video()
    model_sha = secrets.token_hex(32)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("inner/banked.png", banked)
        bundle.writestr("inner/other.jpg", encode(photo_like(120, 90, seed=63)))
    inputs = {
        "banked.png": banked,
        "edited.jpg": edited,
        "evidence.zip": archive.getvalue(),
        "clip.mp4": video,
        "named-model.png": _model_png(model_sha),
        "allowed.png": allowed,
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\x00not an image" * 20,
    }
    store = Store.open(settings)
    banks = Banks(store, actor="test")
    banks.create("KNOWN")
    banks.create("MODELS")
    banks.create("SAFE", kind=BankKind.ALLOWLIST)
    known = hash_bytes(banked)
    assert known.pdq is not None
    banks.add_signals("KNOWN", [Signal("pdq", known.pdq), Signal("md5", known.md5)])
    frame_pdq = hash_bytes(frame).pdq
    assert frame_pdq is not None
    banks.add_signals("KNOWN", [Signal("pdq", frame_pdq)])
    allowed_pdq = hash_bytes(allowed).pdq
    assert allowed_pdq is not None
    banks.add_signals("KNOWN", [Signal("pdq", allowed_pdq)])
    banks.add_signals("SAFE", [Signal("pdq", allowed_pdq)])
    banks.add_signals("MODELS", [Signal("model_sha256", model_sha)])
    store.dispose()
    folder = root / "inputs"
    folder.mkdir()
    for name, data in inputs.items():
        (folder / name).write_bytes(data)
    return World(root / "home", folder, inputs, settings)


def _found(match: dict[str, Any], *, entry: bool = True) -> Found:
    return (
        match["bank"],
        match["entry_id"] if entry else None,
        match["signal_type"],
        int(match["distance"]),
    )


def _member(item_id: str) -> str:
    return item_id.split("!", 1)[1] if "!" in item_id else ""


def _by_file(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by the input file they came from."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(Path(row[key].split("!", 1)[0]).name, []).append(row)
    return grouped


def _said_of_rows(rows: list[dict[str, Any]], key: str, *, suppressed: bool = True) -> Said:
    return Said(
        {_member(r[key]): frozenset(_found(m) for m in r["matches"]) for r in rows},
        frozenset(_found(m) for r in rows for m in r.get("suppressed", ()))
        if suppressed
        else frozenset(),
        any(r["status"] == "error" for r in rows),
    )


@pytest.fixture(scope="module")
def cli_scan(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Said]:
    out = tmp_path_factory.mktemp("scan-out")
    runner = CliRunner()
    env = {"BASTION_HOME": str(world.home)}
    result = runner.invoke(app, ["scan", str(world.folder), "-o", str(out)], env=env)
    assert result.exit_code == 1, result.output  # the broken file and the suppressed match
    rows = pq.read_table(out / "results.parquet").to_pylist()
    return {
        name: _said_of_rows(group, "item_id") for name, group in _by_file(rows, "item_id").items()
    }


@pytest.fixture(scope="module")
def cli_match(world: World) -> dict[str, Said]:
    runner = CliRunner()
    env = {"BASTION_HOME": str(world.home)}
    result = runner.invoke(app, ["match", "--format", "jsonl", str(world.folder)], env=env)
    assert result.exit_code == 1, result.output
    assert "1 matches suppressed by allowlist entries" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    grouped = _by_file(rows, "path")
    return {name: _said_of_rows(group, "path", suppressed=False) for name, group in grouped.items()}


@pytest.fixture(scope="module")
def service(world: World) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app_ = create_app(world.settings, wait_for_index=True)
    with TestClient(app_) as client:
        state: ServiceState = app_.state.bastion
        key = state.accounts.create_key("doors", "client", actor="test")[0]
        yield client, {"Authorization": f"Bearer {key}"}


def _v1_scan(client: TestClient, auth: dict[str, str], name: str, data: bytes) -> Said:
    answer = client.post("/v1/scan", headers=auth, files={"file": (name, data)})
    if answer.status_code == 422:
        return Said({}, error=True)
    assert answer.status_code == 200, answer.text
    rows = [entry["result"] for entry in answer.json()["results"]]
    return _said_of_rows(rows, "item_id")


def _v1_match(client: TestClient, auth: dict[str, str], name: str, data: bytes) -> Said:
    answer = client.post("/v1/match/upload", headers=auth, files={"file": (name, data)})
    if answer.status_code == 422:
        return Said({}, error=True)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    said = _said_of_rows(items, "item_id")
    # Not matched is a clean answer only when nothing went unchecked.
    assert answer.json()["unchecked"] == int(bool(said.suppressed) or said.error)
    return said


def _hma_lookup(client: TestClient, auth: dict[str, str], name: str, data: bytes) -> Said:
    field = "video" if name.endswith(".mp4") else "photo"
    answer = client.post("/m/lookup", headers=auth, files={field: (name, data)})
    if 400 <= answer.status_code < 500:
        return Said({}, error=True)
    assert answer.status_code == 200, answer.text
    found = frozenset(
        (bank, None, signal_type, int(hit["distance"]))
        for signal_type, banks in answer.json().items()
        for bank, hits in banks.items()
        for hit in hits
    )
    return Said({"": found}, frozenset(), False)


#: What the reference door must say of each input, so the comparison is never
#: between two empty answers: (item, bank, signal type) of every match.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "banked.png": {("", "KNOWN", "pdq"), ("", "KNOWN", "md5")},
    "edited.jpg": {("", "KNOWN", "pdq")},
    "evidence.zip": {("inner/banked.png", "KNOWN", "pdq"), ("inner/banked.png", "KNOWN", "md5")},
    "clip.mp4": {("", "KNOWN", "pdq")},
    "named-model.png": {("", "MODELS", "model_sha256")},
    "allowed.png": set(),
    "broken.png": set(),
}


def test_the_reference_door_finds_what_was_banked(cli_scan: dict[str, Said]) -> None:
    for name, expected in EXPECTED.items():
        said = cli_scan[name]
        got = {
            (item, bank, signal)
            for item, found in said.matches.items()
            for bank, _, signal, _ in found
        }
        assert got == expected, name
    edited = next(iter(cli_scan["edited.jpg"].matches[""]))
    assert edited[3] > 0  # an edited copy is near, not identical
    assert cli_scan["allowed.png"].suppressed  # found, and suppressed by the allowlist
    assert cli_scan["broken.png"].error
    assert set(cli_scan["evidence.zip"].matches) == {"inner/banked.png", "inner/other.jpg"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize(
    "door",
    [
        "bastion match",
        "/v1/scan",
        "/v1/match/upload",
        "/m/lookup",
    ],
)
def test_every_door_says_what_scan_says(
    door: str,
    name: str,
    world: World,
    cli_scan: dict[str, Said],
    cli_match: dict[str, Said],
    service: tuple[TestClient, dict[str, str]],
) -> None:
    reference = cli_scan[name]
    data = world.inputs[name]
    client, auth = service
    if door == "bastion match":
        said = cli_match[name]
        assert said.matches == reference.matches
        assert said.error == reference.error
        return
    if door == "/v1/scan":
        said = _v1_scan(client, auth, name, data)
    elif door == "/v1/match/upload":
        said = _v1_match(client, auth, name, data)
    else:
        if name.endswith(".zip"):
            pytest.skip("HMA opens no archives: a zip is not media to it")
        said = _hma_lookup(client, auth, name, data)
        # HMA names no entry ids, and hashes a photo to PDQ, a video to its MD5.
        hma_type = "video_md5" if name.endswith(".mp4") else "pdq"
        expected = {
            (bank, None, signal, distance)
            for bank, _, signal, distance in reference.matches.get("", ())
            if signal == hma_type
        }
        assert said.matches.get("", frozenset()) == expected
        assert said.error == reference.error
        return
    assert said.matches == reference.matches or (said.error and reference.error), door
    assert said.suppressed == reference.suppressed
    assert said.error == reference.error


def test_match_says_which_archive_members_it_skipped(tmp_path: Path) -> None:
    """A member `bastion scan` skips is a skipped row in `bastion match` too, and
    the run exits 1: it was not checked."""

    bundle = tmp_path / "bundle.tar"
    with tarfile.open(bundle, "w") as archive:
        image = encode(photo_like(64, 48, seed=5))
        info = tarfile.TarInfo("photo.jpg")
        info.size = len(image)
        archive.addfile(info, io.BytesIO(image))
        link = tarfile.TarInfo("link.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "photo.jpg"
        archive.addfile(link)
    env = {"BASTION_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(
        app, ["match", "--no-banks", "--format", "jsonl", str(bundle)], env=env
    )
    assert result.exit_code == 1, result.output
    rows = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["bundle.tar!photo.jpg"]["status"] == "ok"
    assert rows["bundle.tar!link.jpg"]["status"] == "skipped"
    assert rows["bundle.tar!link.jpg"]["error_code"]
    assert "1 of 2 inputs not checked fully" in result.stderr
