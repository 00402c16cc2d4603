"""Banks and their entries: create, describe, change, delete, add, withdraw, export,
and the feed of a bank's changes another Bastion follows (``bastion`` exchanges)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bastion.banks.bank import DEFAULT_PDQ_THRESHOLD, BankKind, Banks
from bastion.banks.changes import DEFAULT_LIMIT, MAX_LIMIT, Position, bank_changes
from bastion.banks.entries import export_entries
from bastion.service.security import BankReader, Curator, State
from bastion.service.v1.signals import SIGNAL_EXAMPLE, SignalIn, to_signals

router = APIRouter()


class BankIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "PARTNER_HASHES",
                    "kind": "blocklist",
                    "description": "hashes shared by a partner",
                    "pdq_threshold": 31,
                }
            ]
        }
    )

    name: str = Field(max_length=64)
    kind: BankKind = BankKind.BLOCKLIST
    description: str = Field(default="", max_length=10_000)
    pdq_threshold: int = Field(default=DEFAULT_PDQ_THRESHOLD, ge=0, le=63)


class BankPatch(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"pdq_threshold": 24}]})

    description: str | None = Field(default=None, max_length=10_000)
    pdq_threshold: int | None = Field(default=None, ge=0, le=63)


class EntriesIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"signals": [SIGNAL_EXAMPLE], "labels": ["ncmec:A1"]}]}
    )

    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)
    labels: list[str] = Field(default_factory=list, max_length=100)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"signals": [SIGNAL_EXAMPLE]}]})

    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)


class EntryOut(BaseModel):
    """One line of a bank's export."""

    signal_type: str
    value: str
    labels: list[str]
    external_id: str | None


@router.get("/banks", tags=["banks"], summary="List banks")
def list_banks(who: BankReader, state: State) -> list[dict[str, Any]]:
    return [bank.to_dict() for bank in Banks(state.store, actor=who.actor).list()]


@router.post("/banks", tags=["banks"], status_code=201, summary="Create a bank")
def create_bank(who: Curator, state: State, body: BankIn) -> dict[str, Any]:
    bank = Banks(state.store, actor=who.actor).create(
        body.name, kind=body.kind, description=body.description, pdq_threshold=body.pdq_threshold
    )
    return bank.to_dict()


@router.get("/banks/{name}", tags=["banks"], summary="Describe a bank and count its entries")
def get_bank(who: BankReader, state: State, name: str) -> dict[str, Any]:
    stats = Banks(state.store, actor=who.actor).stats(name)
    return {
        **stats.bank.to_dict(),
        "active": stats.active,
        "withdrawn": stats.withdrawn,
        "by_signal_type": stats.by_signal_type,
        "by_label": stats.by_label,
    }


@router.patch(
    "/banks/{name}", tags=["banks"], summary="Change a bank's description or PDQ threshold"
)
def update_bank(who: Curator, state: State, name: str, body: BankPatch) -> dict[str, Any]:
    bank = Banks(state.store, actor=who.actor).update(
        name, description=body.description, pdq_threshold=body.pdq_threshold
    )
    return bank.to_dict()


@router.delete("/banks/{name}", tags=["banks"], summary="Delete a bank and its entries")
def delete_bank(who: Curator, state: State, name: str) -> dict[str, Any]:
    removed = Banks(state.store, actor=who.actor).delete(name)
    return {"deleted": name, "entries": removed}


@router.post("/banks/{name}/entries", tags=["banks"], summary="Add signals to a bank")
def add_entries(who: Curator, state: State, name: str, body: EntriesIn) -> dict[str, Any]:
    banks = Banks(state.store, actor=who.actor)
    report = banks.add_signals(name, to_signals(body.signals), body.labels, source=who.actor)
    state.refresh_now()
    return report.to_dict()


@router.post(
    "/banks/{name}/entries/withdraw", tags=["banks"], summary="Withdraw signals from a bank"
)
def withdraw_entries(who: Curator, state: State, name: str, body: WithdrawIn) -> dict[str, Any]:
    withdrawn = Banks(state.store, actor=who.actor).withdraw_signals(name, to_signals(body.signals))
    state.refresh_now()
    return {"withdrawn": withdrawn}


@router.get(
    "/banks/{name}/entries",
    tags=["banks"],
    summary="Export a bank's active entries (JSON lines)",
    responses={
        200: {"content": {"application/x-ndjson": {"schema": EntryOut.model_json_schema()}}}
    },
    response_class=StreamingResponse,
)
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


class ChangeOut(BaseModel):
    """One line of a bank's changes: an entry as it is now, at its latest change.
    The last line is ``{"op": "end", "next": ..., "more": ...}``."""

    seq: int
    id: int
    op: str = Field(description="add, withdraw, or end on the last line")
    signal_type: str
    value: str
    external_id: str | None
    labels: list[str]


@router.get(
    "/banks/{name}/changes",
    tags=["banks"],
    summary="A bank's changes after a position (JSON lines), to follow the bank",
    responses={
        200: {"content": {"application/x-ndjson": {"schema": ChangeOut.model_json_schema()}}}
    },
    response_class=Response,
)
def bank_changes_page(
    who: BankReader,
    state: State,
    name: str,
    after: Annotated[
        str,
        Query(
            max_length=40,
            pattern=r"^[0-9]+(\.[0-9]+)?$",
            description="the 'next' of the previous page (SEQ or SEQ.ID); 0 for the start",
        ),
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """Entries changed after ``after``, ordered by change, withdrawals included; a
    last line ``{"op": "end", "next": POSITION, "more": BOOL}`` says where the next
    page starts (a body without it was cut short)."""
    page = bank_changes(state.store, name, after=Position.parse(after), limit=limit)
    lines = [json.dumps(change.to_dict()) for change in page.changes]
    lines.append(json.dumps({"op": "end", "next": str(page.next), "more": page.more}))
    return Response("\n".join(lines) + "\n", media_type="application/x-ndjson")
