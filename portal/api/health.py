"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from .deps import SessionDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str


@router.get("/health", response_model=Health)
def health(session: SessionDep) -> Health:
    from aicommons.portal import __version__

    session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok", version=__version__)
