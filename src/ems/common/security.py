"""Access-token verification and the FastAPI dependencies every service uses to enforce
roles itself, whatever the gateway did. Tokens are EdDSA JWTs signed by the auth service;
its public keys come from its JWKS document. A verified token is then checked against the
process's copy of auth's revocations (ems.common.revocations): in memory, on every request.

The signature and claims of a token are checked once: its caller is then kept in memory
until the token expires (a client sends the same token for minutes), while the revocation
check still runs on every request, so a cached token stops as soon as it is revoked."""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request
from jwt.algorithms import OKPAlgorithm

from ems.common.errors import ApiError, forbidden, unauthorized
from ems.common.openapi import raises
from ems.common.revocations import Revocations, RevocationsUnknown, SessionEnded

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "access"
# Tokens auth issues to services for `/internal/*` calls (ems.common.credentials).
SERVICE_TOKEN_TYPE = "service"


# Slots: one is kept per verified token, for as long as the token lives.
@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of a request."""

    user_id: uuid.UUID
    role: Literal["ADMIN", "CLIENT"]
    username: str
    # The login session (refresh-token family) the token belongs to, and the user's token
    # version when it was issued: what revocations name.
    session_id: uuid.UUID = field(default_factory=lambda: uuid.UUID(int=0))
    version: int = 0
    # When the token expires (epoch seconds).
    expires_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


class InvalidToken(Exception):
    pass


KeyLoader = Callable[[], Awaitable[dict[str, Ed25519PublicKey]]]


class TokenVerifier:
    """Checks signature (EdDSA only), `kid`, `iss`, `aud`, `exp` and `typ` of access tokens,
    then (when given `revocations`) that the token's session and version still stand."""

    # An unknown kid triggers at most one key reload per this many seconds.
    RELOAD_INTERVAL = 10.0
    # Verified tokens kept (of each kind) until they expire.
    CACHE_SIZE = 20_000

    def __init__(
        self,
        load_keys: KeyLoader,
        issuer: str,
        audience: str,
        revocations: Revocations | None = None,
    ) -> None:
        self._load_keys = load_keys
        self.issuer = issuer
        self.audience = audience
        # None only in tests that build a verifier of their own: nothing is revoked then.
        self.revocations = revocations
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        # Verified tokens (access: their caller; service: expiry and name), kept until they
        # expire: PyJWT checks a token once, not on every request.
        self._principals: dict[str, Principal] = {}
        self._services: dict[str, tuple[float, str]] = {}

    async def _key(self, kid: str) -> Ed25519PublicKey:
        if kid not in self._keys and time.monotonic() - self._loaded_at > self.RELOAD_INTERVAL:
            async with self._lock:
                if kid not in self._keys:
                    self._keys = await self._load_keys()
                    self._loaded_at = time.monotonic()
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken("unknown signing key") from None

    async def verify(self, token: str) -> Principal:
        """The caller of a user's access token; `InvalidToken`, `SessionEnded` or
        `RevocationsUnknown` otherwise."""
        principal = self._principals.get(token)
        if principal is None or principal.expires_at <= time.time():
            principal = principal_from_claims(await self._verify(token))
            self._remember(self._principals, token, principal)
        if self.revocations is not None:
            self.revocations.check(principal.user_id, principal.session_id, principal.version)
        return principal

    async def verify_service(self, token: str) -> str:
        """The name of the service a service token was issued to."""
        known = self._services.get(token)
        if known is not None and known[0] > time.time():
            return known[1]
        claims = await self._verify(token)
        if claims.get("typ") != SERVICE_TOKEN_TYPE or not isinstance(claims.get("sub"), str):
            raise InvalidToken("not a service token")
        name: str = claims["sub"]
        self._remember(self._services, token, (float(claims["exp"]), name))
        return name

    def _remember(self, table: dict[str, Any], token: str, value: Any) -> None:
        """Keep a verified token's answer; past CACHE_SIZE, drop the expired ones first (and
        everything if that is not enough: they are verified again)."""
        if len(table) >= self.CACHE_SIZE:
            now = time.time()
            for old in [t for t, v in table.items() if _expiry(v) <= now]:
                del table[old]
            if len(table) >= self.CACHE_SIZE:
                table.clear()
        table[token] = value

    async def _verify(self, token: str) -> dict[str, Any]:
        """Signature (EdDSA, a known kid), `iss`, `aud`, `exp`: PyJWT, once per token."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidToken("unexpected token algorithm")
        key = await self._key(header["kid"])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return claims


def _expiry(value: Principal | tuple[float, str]) -> float:
    return value.expires_at if isinstance(value, Principal) else value[0]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    role = claims.get("role")
    if role not in ("ADMIN", "CLIENT"):
        raise InvalidToken("unknown role")
    version = claims.get("ver")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidToken("no token version")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims.get("sid")))
    except ValueError:
        raise InvalidToken("bad subject or session") from None
    return Principal(
        user_id=user_id,
        role=role,
        username=str(claims.get("name", "")),
        session_id=session_id,
        version=version,
        expires_at=float(claims["exp"]),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process. httpx builds a new one for every
    client (every CA certificate parsed: ~27 ms of CPU), which a client made per call, such as
    a token fetch retried every second while auth is down, would pay each time."""
    return httpx.create_ssl_context()


def jwks_loader(auth_url: str) -> KeyLoader:
    """Loads the auth service's public keys from its JWKS document."""

    async def load() -> dict[str, Ed25519PublicKey]:
        async with httpx.AsyncClient(timeout=5.0, verify=tls_context()) as client:
            response = await client.get(f"{auth_url.rstrip('/')}/api/auth/jwks.json")
            response.raise_for_status()
        return parse_jwks(response.json())

    return load


def parse_jwks(document: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            key = OKPAlgorithm.from_jwk(json.dumps(jwk))
            if isinstance(key, Ed25519PublicKey):
                keys[jwk["kid"]] = key
    return keys


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


@raises(401, 503)
async def current_user(request: Request) -> Principal:
    """The caller, from a verified bearer token; 401 otherwise."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verify_or_raise(verifier, token)
    request.state.principal = principal
    return principal


async def verify_or_raise(verifier: TokenVerifier, token: str) -> Principal:
    """`verify`, with its refusals as the API answers them (401, or 503 when unsure)."""
    try:
        return await verifier.verify(token)
    except InvalidToken:
        raise unauthorized("invalid or expired token") from None
    except SessionEnded as ended:
        raise unauthorized(f"this session has ended ({ended.revocation.reason})") from None
    except RevocationsUnknown:
        raise ApiError(
            503, "auth_unavailable", "the request could not be authenticated right now"
        ) from None


@raises(403)
async def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The caller, who must be an admin; 403 otherwise."""
    if not user.is_admin:
        raise forbidden("admin role required")
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]
