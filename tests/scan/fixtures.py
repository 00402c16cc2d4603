"""Collections, archives, shards and Parquet files built from generated benign images."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.banks import Banks
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.matching import Index
from bastion.store import Store
from tests.images import encode, photo_like


def jpeg(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    return encode(photo_like(size[0], size[1], seed), "JPEG")


def add_tar_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in members:
            add_tar_member(archive, name, data)
    return path


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def write_shards(folder: Path, samples: int, per_shard: int) -> str:
    """Webdataset shards data-000000.tar ...; returns the brace pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = (samples + per_shard - 1) // per_shard
    for shard in range(shards):
        members = []
        for number in range(shard * per_shard, min(samples, (shard + 1) * per_shard)):
            key = f"{number:06d}"
            members.append((f"{key}.jpg", jpeg(number)))
            members.append((f"{key}.txt", b"placeholder caption"))
        write_tar(folder / f"data-{shard:06d}.tar", members)
    return str(folder / f"data-{{000000..{shards - 1:06d}}}.tar")


def write_parquet(path: Path, images: list[bytes | None], ids: list[str]) -> Path:
    table = pa.table({"key": ids, "jpg": pa.array(images, type=pa.binary())})
    pq.write_table(table, path, row_group_size=7)
    return path


def png(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    return encode(photo_like(size[0], size[1], seed), "PNG")


def banked_index(settings: Settings, images: list[bytes], bank: str = "known") -> Index:
    """An index whose blocklist ``bank`` holds the MD5 of each of ``images``."""
    store = Store.open(settings)
    Banks(store, actor="test").create(bank)
    Banks(store, actor="test").add_signals(bank, [hash_bytes(image).signals[0] for image in images])
    return Index.open(store, settings)
