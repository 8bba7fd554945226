"""Ed25519 signing keys: generated on first start, kept in authdb (never in the repo),
published as JWKS. All unretired keys verify; the newest signs, so a rotation adds a key
and retires the old one only after the longest token lifetime has passed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ems.auth.models import SigningKey
from ems.common.db import Database

_KEY_LOCK = 0x4B4559  # advisory lock: two auth replicas starting together make one key


@dataclass(frozen=True)
class KeyRing:
    signing_kid: str
    signing_key: Ed25519PrivateKey
    public: dict[str, Ed25519PublicKey]
    jwks: dict[str, Any]


def new_signing_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(kid=kid, private_pem=pem, public_jwk=jwk)


async def ensure_signing_key(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    active = await session.scalar(
        select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)
    )
    if active is None:
        session.add(new_signing_key())


async def load_key_ring(db: Database) -> KeyRing:
    async with db.transaction() as session:
        await ensure_signing_key(session)
        rows = (
            await session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.created_at.desc())
            )
        ).all()
    newest = rows[0]
    private = serialization.load_pem_private_key(newest.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public: dict[str, Ed25519PublicKey] = {}
    for row in rows:
        key = OKPAlgorithm.from_jwk(json.dumps(row.public_jwk))
        assert isinstance(key, Ed25519PublicKey)
        public[row.kid] = key
    return KeyRing(
        signing_kid=newest.kid,
        signing_key=private,
        public=public,
        jwks={"keys": [row.public_jwk for row in rows]},
    )
