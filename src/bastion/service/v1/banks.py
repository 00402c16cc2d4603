"""Banks and their entries: create, describe, change, delete, add, withdraw, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from bastion.banks.bank import DEFAULT_PDQ_THRESHOLD, BankKind, Banks
from bastion.banks.entries import export_entries
from bastion.service.security import BankReader, Curator, State
from bastion.service.v1.signals import SignalIn, to_signals

router = APIRouter()


class BankIn(BaseModel):
    name: str = Field(max_length=64)
    kind: BankKind = BankKind.BLOCKLIST
    description: str = Field(default="", max_length=10_000)
    pdq_threshold: int = Field(default=DEFAULT_PDQ_THRESHOLD, ge=0, le=63)


class BankPatch(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    pdq_threshold: int | None = Field(default=None, ge=0, le=63)


class EntriesIn(BaseModel):
    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)
    labels: list[str] = Field(default_factory=list, max_length=100)


class WithdrawIn(BaseModel):
    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)


@router.get("/banks", tags=["banks"])
def list_banks(who: BankReader, state: State) -> list[dict[str, Any]]:
    return [bank.to_dict() for bank in Banks(state.store, actor=who.actor).list()]


@router.post("/banks", tags=["banks"], status_code=201)
def create_bank(who: Curator, state: State, body: BankIn) -> dict[str, Any]:
    bank = Banks(state.store, actor=who.actor).create(
        body.name, kind=body.kind, description=body.description, pdq_threshold=body.pdq_threshold
    )
    return bank.to_dict()


@router.get("/banks/{name}", tags=["banks"])
def get_bank(who: BankReader, state: State, name: str) -> dict[str, Any]:
    stats = Banks(state.store, actor=who.actor).stats(name)
    return {
        **stats.bank.to_dict(),
        "active": stats.active,
        "withdrawn": stats.withdrawn,
        "by_signal_type": stats.by_signal_type,
        "by_label": stats.by_label,
    }


@router.patch("/banks/{name}", tags=["banks"])
def update_bank(who: Curator, state: State, name: str, body: BankPatch) -> dict[str, Any]:
    bank = Banks(state.store, actor=who.actor).update(
        name, description=body.description, pdq_threshold=body.pdq_threshold
    )
    return bank.to_dict()


@router.delete("/banks/{name}", tags=["banks"])
def delete_bank(who: Curator, state: State, name: str) -> dict[str, Any]:
    removed = Banks(state.store, actor=who.actor).delete(name)
    return {"deleted": name, "entries": removed}


@router.post("/banks/{name}/entries", tags=["banks"])
def add_entries(who: Curator, state: State, name: str, body: EntriesIn) -> dict[str, Any]:
    banks = Banks(state.store, actor=who.actor)
    report = banks.add_signals(name, to_signals(body.signals), body.labels, source=who.actor)
    state.refresh_now()
    return report.to_dict()


@router.post("/banks/{name}/entries/withdraw", tags=["banks"])
def withdraw_entries(who: Curator, state: State, name: str, body: WithdrawIn) -> dict[str, Any]:
    withdrawn = Banks(state.store, actor=who.actor).withdraw_signals(name, to_signals(body.signals))
    state.refresh_now()
    return {"withdrawn": withdrawn}


@router.get("/banks/{name}/entries", tags=["banks"])
def export_bank(who: BankReader, state: State, name: str) -> StreamingResponse:
    """Every active entry, one JSON object a line (streamed: any bank size)."""
    Banks(state.store, actor=who.actor).get(name)  # 404 before the stream starts

    def lines() -> Iterator[bytes]:
        for entry in export_entries(state.store, name):
            record = {
                "signal_type": entry.signal.type,
                "value": entry.signal.value,
                "labels": list(entry.labels),
                "external_id": entry.external_id,
            }
            yield (json.dumps(record) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")
