"""REST routes of the realtime service: presence for the admin inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ems.common.deps import provided
from ems.common.paging import PageParams, page_params
from ems.common.security import AdminUser
from ems.realtime.schemas import OnlineUser, PresencePage
from ems.realtime.service import RealtimeContext

RealtimeDep = Annotated[RealtimeContext, Depends(provided(RealtimeContext))]

router = APIRouter(prefix="/api/realtime", tags=["realtime"])
# Who is online: 100 a page, at most 500.
Paging = Annotated[PageParams, Depends(page_params(default_size=100, max_size=500))]


@router.get("/presence", response_model=PresencePage)
async def read_presence(_: AdminUser, paging: Paging, ctx: RealtimeDep) -> PresencePage:
    """Users with at least one open socket on any realtime instance (admins only)."""
    members = sorted(ctx.presence.members().items(), key=lambda um: um[1].username)
    start = paging.offset
    items = [
        OnlineUser(user_id=user_id, username=member.username, role=member.role)
        for user_id, member in members[start : start + paging.size]
    ]
    return PresencePage(items=items, total=len(members), page=paging.page, size=paging.size)
