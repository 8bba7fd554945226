"""An admin creating a user: the login in auth first, then the profile here.

auth holds the password, so it commits first (credential + `auth.user_registered` in one
transaction). The profile is then written here; if this process dies in between, the event
writes it instead. Both paths go through `apply_registration`, which creates it once.
"""

from __future__ import annotations

import uuid

from ems.common.db import Database
from ems.common.errors import not_found
from ems.contracts.identity import NewCredential
from ems.users.auth_client import AuthClient
from ems.users.models import User
from ems.users.schemas import UserCreate
from ems.users.service import Caller, apply_registration, ensure_available


async def create_user(db: Database, auth: AuthClient, caller: Caller, body: UserCreate) -> User:
    async with db.sessions() as session:
        await ensure_available(session, body.username, body.email)
    registered = await auth.create_credential(
        caller.token, NewCredential(id=uuid.uuid4(), **body.model_dump())
    )
    async with db.transaction() as session:
        user, _ = await apply_registration(session, registered)
    if user is None:  # deleted by another admin in the meantime
        raise not_found("user")
    return user
