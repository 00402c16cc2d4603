"""The ``/v1`` API: hashing, matching, scanning, banks, the review queue, admin.

Routes are thin: they check who is asking (``require``), call the library
and shape its answer as JSON.  Handlers are plain functions, so FastAPI runs
them in its thread pool and hashing never blocks the event loop.  Each route
group is its own module with its own router; this one mounts them under
``/v1``.
"""

from __future__ import annotations

from fastapi import APIRouter

from bastion.service.v1 import (
    admin,
    banks,
    exchanges,
    generation,
    hashing,
    health,
    reports,
    review,
)

router = APIRouter(prefix="/v1")
for group in (health, hashing, generation, banks, exchanges, review, reports, admin):
    router.include_router(group.router)
