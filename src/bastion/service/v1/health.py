"""Liveness and readiness: the only ``/v1`` routes that need no credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bastion.service.security import State

router = APIRouter()


@router.get("/health", tags=["health"])
def health() -> dict[str, str]:
    """Liveness: the process answers (no credentials needed)."""
    return {"status": "ok"}


@router.get("/ready", tags=["health"])
def ready(state: State) -> JSONResponse:
    """Readiness: the match index is loaded and current (503 otherwise)."""
    problem = state.readiness()
    if problem:
        return JSONResponse({"status": "not ready", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "index_seq": state.index.seq})
