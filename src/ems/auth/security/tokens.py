"""The tokens auth signs: users' access tokens and services' tokens, both EdDSA JWTs with
the newest signing key, and the digests under which refresh tokens are stored."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from ems.auth.security.keys import KeyRing
from ems.auth.settings import AuthSettings
from ems.common.security import ACCESS_TOKEN_TYPE, ALGORITHM, SERVICE_TOKEN_TYPE
from ems.contracts.events import Role


def access_token(
    settings: AuthSettings,
    keys: KeyRing,
    *,
    user_id: uuid.UUID,
    username: str,
    role: Role | str,
    session_id: uuid.UUID,
    version: int,
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "name": username,
        "role": role,
        "typ": ACCESS_TOKEN_TYPE,
        # What revocations name: the login session, and the user's token version.
        "sid": str(session_id),
        "ver": version,
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return _sign(keys, claims)


def service_token(settings: AuthSettings, keys: KeyRing, service: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": service,
        "typ": SERVICE_TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=settings.service_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return _sign(keys, claims)


def _sign(keys: KeyRing, claims: dict[str, object]) -> str:
    return jwt.encode(
        claims, keys.signing_key, algorithm=ALGORITHM, headers={"kid": keys.signing_kid}
    )


def digest(token: str) -> str:
    """Refresh tokens are stored as their SHA-256 only."""
    return hashlib.sha256(token.encode()).hexdigest()
