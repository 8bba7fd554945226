"""Forged access tokens: every variant the gateway and the services must refuse."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _header_of(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    )
    return decoded


def forged_tokens(
    valid: str, jwks: dict[str, Any], signing_key: Ed25519PrivateKey
) -> dict[str, str]:
    """Tokens derived from a valid one (its claims, its kid) that must all be refused.

    `signing_key` is auth's real one: the expired token carries a good signature, so only
    its expiry can refuse it.
    """
    claims = _claims_of(valid)
    kid = _header_of(valid)["kid"]
    now = datetime.now(UTC)
    stranger = Ed25519PrivateKey.generate()

    def signed_by_stranger(**changes: Any) -> str:
        return jwt.encode({**claims, **changes}, stranger, algorithm="EdDSA", headers={"kid": kid})

    head, payload, signature = valid.split(".")
    admin_claims = {**claims, "role": "ADMIN"}
    tampered_payload = _b64(json.dumps(admin_claims).encode())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    # HS256 keyed with the public key's bytes: the classic algorithm-confusion attack.
    public_x = jwks["keys"][0]["x"]
    confused = jwt.encode(
        admin_claims,
        base64.urlsafe_b64decode(public_x + "=" * (-len(public_x) % 4)).hex(),
        algorithm="HS256",
        headers={"kid": kid},
    )
    return {
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "bad signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "alg none": f"{none_header}.{tampered_payload}.",
        "hs256 confusion": confused,
        "foreign key": signed_by_stranger(),
        "expired": reissued(valid, signing_key, exp=int((now - timedelta(minutes=1)).timestamp())),
        "garbage": "not.a.token",
        "unknown kid": jwt.encode(
            claims, stranger, algorithm="EdDSA", headers={"kid": uuid.uuid4().hex}
        ),
    }


def reissued(valid: str, private_key: Ed25519PrivateKey, **changes: Any) -> str:
    """The valid token's claims with `changes`, signed with the real key (for aud/exp/typ)."""
    kid = _header_of(valid)["kid"]
    return jwt.encode({**_claims_of(valid), **changes}, private_key, "EdDSA", headers={"kid": kid})
