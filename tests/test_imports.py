"""``import bastion`` stays light: heavy libraries load where they are used.

Every process pays for what ``import bastion`` loads (a 10 M-hash index
process, each scan worker, each API worker).  pyarrow, PyAV, c2pa, Ray,
ONNX Runtime and the service stack cost tens of MB each, so they are
imported by the functions or door modules that use them; this runs the
imports in a fresh interpreter and lists what got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

#: Packages no process should load just by importing bastion or its index.
HEAVY = ("pyarrow", "c2pa", "av", "ray", "onnxruntime", "fastapi", "starlette", "uvicorn")


def loaded_packages(statement: str) -> set[str]:
    """Top-level packages in sys.modules after ``statement``, in a fresh interpreter."""
    script = f"{statement}; import sys; print(sorted(sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    modules: list[str] = ast.literal_eval(output)
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import bastion", (*HEAVY, "sqlalchemy")),
        ("import bastion; import bastion.matching", HEAVY),
    ],
)
def test_import_loads_no_heavy_package(statement: str, absent: tuple[str, ...]) -> None:
    loaded = loaded_packages(statement)
    assert "bastion" in loaded
    assert sorted(loaded & set(absent)) == []
