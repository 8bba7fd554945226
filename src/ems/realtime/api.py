"""REST routes of the realtime service: presence for the admin inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ems.common.security import AdminUser
from ems.realtime.context import RealtimeContext
from ems.realtime.schemas import OnlineUser, PresencePage

router = APIRouter(prefix="/api/realtime", tags=["realtime"])


@router.get("/presence", response_model=PresencePage)
async def read_presence(
    request: Request,
    _: AdminUser,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PresencePage:
    """Users with at least one open socket on any realtime instance (admins only)."""
    ctx: RealtimeContext = request.app.state.realtime
    members = sorted(ctx.presence.members().items(), key=lambda um: um[1].username)
    start = (page - 1) * size
    items = [
        OnlineUser(user_id=user_id, username=member.username, role=member.role)
        for user_id, member in members[start : start + size]
    ]
    return PresencePage(items=items, total=len(members), page=page, size=size)
