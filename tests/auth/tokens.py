"""Access tokens as Supabase Auth mints them, signed in the tests with throwaway
keys: the HS256 shared secret, and an ES256 key whose public half a respx route
serves as the project's JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PROJECT = "https://abcdefghijklmnop.supabase.co"
ISSUER = f"{PROJECT}/auth/v1"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
PROJECT_IP = "93.184.216.34"
PINNED_JWKS = f"https://{PROJECT_IP}/auth/v1/.well-known/jwks.json"
SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
KID = "test-key-1"
ALICE = UUID("00000000-0000-4000-8000-00000000a11c")
BOB = UUID("00000000-0000-4000-8000-000000000b0b")

EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())


async def resolver(host: str, port: int) -> list[str]:
    return {"abcdefghijklmnop.supabase.co": [PROJECT_IP]}[host]


def public_jwk(key: ec.EllipticCurvePrivateKey = EC_KEY, kid: str = KID) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return jwk | {"kid": kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys) or [public_jwk()]}


def claims(user: UUID = ALICE, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user),
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "email": "someone@example.com",
        "session_id": "5f2b1e8e-0000-4000-8000-000000000001",
        "is_anonymous": False,
        "aal": "aal1",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def hs256(user: UUID = ALICE, secret: str = SECRET, **changes: Any) -> str:
    return jwt.encode(claims(user, **changes), secret, algorithm="HS256")


def es256(
    user: UUID = ALICE,
    key: ec.EllipticCurvePrivateKey = EC_KEY,
    kid: str | None = KID,
    **changes: Any,
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(user, **changes), key, algorithm="ES256", headers=headers)


def unsigned(user: UUID = ALICE) -> str:
    """An `alg: none` token with well-formed claims."""
    return jwt.encode(claims(user), None, algorithm="none")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with(key_material: bytes, user: UUID = ALICE, kid: str | None = KID) -> str:
    """An HS256 token whose HMAC key is `key_material` (e.g. the project's public
    key, as an attacker who read the JWKS would sign), minted by hand because PyJWT
    itself refuses to use a public key as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims(user)).encode())}"
    signature = hmac.new(key_material, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def public_pem(key: ec.EllipticCurvePrivateKey = EC_KEY) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
