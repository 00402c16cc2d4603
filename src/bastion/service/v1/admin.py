"""Administration: users, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bastion import audit
from bastion.accounts import Role
from bastion.service.security import Admin, State

router = APIRouter()


class UserIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "alice", "role": "reviewer", "password": "correct horse battery staple"}
            ]
        }
    )

    name: str = Field(max_length=64)
    role: Role
    password: str = Field(min_length=12, max_length=1024)


class KeyIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "platform-uploads", "role": "client"}]}
    )

    name: str = Field(max_length=64)
    role: Role = Role.CLIENT


@router.get("/users", tags=["admin"], summary="List users")
def users(_: Admin, state: State) -> list[dict[str, Any]]:
    return [
        {
            "name": u.name,
            "role": u.role.value,
            "created_at": u.created_at.isoformat(),
            "disabled": u.disabled,
        }
        for u in state.accounts.users()
    ]


@router.post("/users", tags=["admin"], status_code=201, summary="Add a user")
def add_user(who: Admin, state: State, body: UserIn) -> dict[str, Any]:
    user = state.accounts.add_user(body.name, body.role, body.password, actor=who.actor)
    return {"name": user.name, "role": user.role.value}


@router.delete("/users/{name}", tags=["admin"], summary="Disable a user")
def disable_user(who: Admin, state: State, name: str) -> dict[str, str]:
    state.accounts.disable_user(name, actor=who.actor)
    return {"disabled": name}


@router.get("/apikeys", tags=["admin"], summary="List API keys")
def api_keys(_: Admin, state: State) -> list[dict[str, Any]]:
    return [
        {
            "prefix": k.prefix,
            "name": k.name,
            "role": k.role.value,
            "created_at": k.created_at.isoformat(),
            "revoked": k.revoked,
        }
        for k in state.accounts.api_keys()
    ]


@router.post("/apikeys", tags=["admin"], status_code=201, summary="Create an API key")
def create_key(who: Admin, state: State, body: KeyIn) -> dict[str, str]:
    """A new key; the secret is in this answer only."""
    secret, info = state.accounts.create_key(body.name, body.role, actor=who.actor)
    return {"key": secret, "prefix": info.prefix, "name": info.name, "role": info.role.value}


@router.delete("/apikeys/{prefix}", tags=["admin"], summary="Revoke an API key")
def revoke_key(who: Admin, state: State, prefix: str) -> dict[str, str]:
    state.accounts.revoke_key(prefix, actor=who.actor)
    return {"revoked": prefix}


@router.get("/audit", tags=["admin"], summary="Recent audit records")
def audit_log(
    _: Admin, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "detail": r.detail,
            "digest": r.digest,
        }
        for r in audit.recent(state.store, limit)
    ]


@router.get("/audit/verify", tags=["admin"], summary="Verify the audit chain")
def audit_verify(_: Admin, state: State) -> dict[str, Any]:
    result = audit.verify(state.store)
    return {
        "ok": result.ok,
        "records": result.records,
        "head_seq": result.head_seq,
        "head_digest": result.head_digest,
        "problems": [{"seq": p.seq, "message": p.message} for p in result.problems],
    }
