"""Liveness and readiness: the only ``/v1`` routes that need no credentials."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bastion.service.security import State

router = APIRouter()


class Readiness(BaseModel):
    """``/v1/ready``'s answer: 200 when ready (with the index's sequence), else 503."""

    status: Literal["ready", "not ready"]
    index_seq: int | None = None
    message: str | None = None


@router.get(
    "/health", tags=["health"], openapi_extra={"security": []}, summary="Is the process alive?"
)
def health() -> dict[str, str]:
    """Liveness: the process answers (no credentials needed)."""
    return {"status": "ok"}


@router.get(
    "/ready",
    tags=["health"],
    openapi_extra={"security": []},
    summary="Is the match index loaded and current?",
    responses={200: {"model": Readiness}, 503: {"model": Readiness}},
)
def ready(state: State) -> JSONResponse:
    """Readiness: the match index is loaded and current (503 otherwise)."""
    problem = state.readiness()
    if problem:
        return JSONResponse({"status": "not ready", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "index_seq": state.index.seq})
