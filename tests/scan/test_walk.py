from __future__ import annotations

from pathlib import Path

from bastion.scan.walk import WalkProblem, iter_files


def test_sorted_recursive_and_symlinked_directories_once(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "2.bin").write_bytes(b"2")
    (tmp_path / "a" / "1.bin").write_bytes(b"1")
    (tmp_path / "b" / "3.bin").write_bytes(b"3")
    (tmp_path / "c").symlink_to(tmp_path / "a")
    items = list(iter_files([tmp_path]))
    files = [i.relative_to(tmp_path).as_posix() for i in items if isinstance(i, Path)]
    assert files == ["a/1.bin", "a/2.bin", "b/3.bin"]
    problems = [i for i in items if isinstance(i, WalkProblem)]
    assert [(p.path.name, p.error.code) for p in problems] == [("c", "duplicate")]


def test_loop_and_broken_link(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "up").symlink_to(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    problems = {
        p.path.name: p.error.code for p in iter_files([tmp_path]) if isinstance(p, WalkProblem)
    }
    assert problems == {"up": "symlink-loop", "dangling": "not-found"}
