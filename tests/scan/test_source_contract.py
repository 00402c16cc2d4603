"""Every Source meets the Source contract."""

from __future__ import annotations

import os
from pathlib import Path

from bastion.scan.sources import SourceKind, SourceOptions
from tests.contracts.source import SourceContract
from tests.scan.fixtures import jpeg, png, write_parquet, write_shards, write_tar, write_zip


class TestFolder(SourceContract):
    KIND = SourceKind.FILES

    def readable(self, folder: Path) -> str:
        (folder / "nested").mkdir(parents=True)
        for number in range(5):
            (folder / f"{number}.jpg").write_bytes(jpeg(number, (32, 24)))
        (folder / "nested" / "deeper.png").write_bytes(png(9, (32, 24)))
        return str(folder)

    def damaged(self, folder: Path) -> str:
        """A link to nothing: the walk reports it."""
        folder.mkdir(parents=True)
        (folder / "fine.jpg").write_bytes(jpeg(1, (32, 24)))
        os.symlink(folder / "gone.jpg", folder / "dangling.jpg")
        return str(folder)


class TestZipArchive(SourceContract):
    KIND = SourceKind.FILES

    def readable(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        members = [(f"in/{n}.jpg", jpeg(n, (32, 24))) for n in range(4)]
        return str(write_zip(folder / "photos.zip", members))

    def damaged(self, folder: Path) -> str:
        whole = Path(self.readable(folder))
        whole.write_bytes(whole.read_bytes()[:-200])
        return str(whole)


class TestTarArchive(SourceContract):
    KIND = SourceKind.FILES

    def readable(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        members = [(f"{n}.jpg", jpeg(n)) for n in range(4)]
        return str(write_tar(folder / "photos.tar", members))

    def damaged(self, folder: Path) -> str:
        whole = Path(self.readable(folder))
        whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        return str(whole)


class TestWebdataset(SourceContract):
    KIND = SourceKind.WEBDATASET

    def readable(self, folder: Path) -> str:
        return write_shards(folder, samples=7, per_shard=3)

    def damaged(self, folder: Path) -> str:
        pattern = write_shards(folder, samples=6, per_shard=3)
        shard = folder / "data-000001.tar"
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
        return pattern


class TestParquet(SourceContract):
    KIND = SourceKind.PARQUET
    OPTIONS = SourceOptions(id_column="key")

    def readable(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        images: list[bytes | None] = [jpeg(n, (32, 24)) for n in range(16)]
        write_parquet(folder / "part-0.parquet", images, [f"id{n}" for n in range(16)])
        write_parquet(folder / "part-1.parquet", images[:3], ["a", "b", "c"])
        return str(folder)

    def damaged(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        garbage = folder / "broken.parquet"
        garbage.write_bytes(b"PAR1" + bytes(range(256)) * 8)
        return str(garbage)
