"""Parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: A database row id: positive and within a 64-bit signed integer.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
