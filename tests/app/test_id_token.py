"""ID token checks against the real provider's keys.

The provider only ever issues good tokens, so bad ones are forged here with its own
signing key (generated at setup into the provider's state folder) or with keys and
algorithms it never uses. Each must be refused.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from app.auth.oidc import OIDCClient, SignInError
from app.settings import OIDCSettings
from tests.conftest import IDP_STATE_DIR

NONCE = "n-0S6_WzA2Mj"


def provider_key() -> RSAKey:
    keys = KeySet.import_key_set(json.loads((IDP_STATE_DIR / "jwks.json").read_text()))
    key = keys.keys[0]
    assert isinstance(key, RSAKey)
    return key


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1:9000",
        "sub": "c1a7e3f0-alice",
        "aud": "onestop",
        "exp": now + 600,
        "iat": now,
        "nonce": NONCE,
        "preferred_username": "alice",
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def forge(claims: dict[str, Any], key: Any = None, alg: str = "RS256") -> str:
    key = key or provider_key()
    header = {"alg": alg, "kid": key.kid} if getattr(key, "kid", None) else {"alg": alg}
    return jwt.encode(header, claims, key, algorithms=[alg])


@pytest.fixture
def client(idp: str) -> OIDCClient:
    return OIDCClient(OIDCSettings(issuer=idp), "http://127.0.0.1:8001/auth/callback")


async def test_a_well_formed_token_passes(client: OIDCClient) -> None:
    claims = await client.verify_id_token(forge(good_claims()), nonce=NONCE)
    assert claims["preferred_username"] == "alice"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"nonce": "another-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"iss": "http://127.0.0.1:9001"}, "issuer"),
        ({"iss": "http://127.0.0.1:9000/"}, "issuer"),
        ({"aud": "someone-else"}, "audience"),
        ({"aud": ["someone-else", "another"]}, "audience"),
        ({"aud": ["onestop", "another"]}, "azp"),
        ({"exp": int(time.time()) - 3600}, "exp"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"sub": ""}, "sub"),
    ],
)
async def test_bad_claims_are_refused(
    client: OIDCClient, changes: dict[str, Any], check: str
) -> None:
    with pytest.raises(SignInError, match=check):
        await client.verify_id_token(forge(good_claims(**changes)), nonce=NONCE)


async def test_a_token_signed_by_another_key_is_refused(client: OIDCClient) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": provider_key().kid})
    with pytest.raises(SignInError, match="signature"):
        await client.verify_id_token(forge(good_claims(), key=stranger), nonce=NONCE)


async def test_an_hmac_token_keyed_with_public_material_is_refused(client: OIDCClient) -> None:
    # The classic algorithm confusion: HS256 keyed with the provider's public key.
    public = json.dumps(provider_key().as_dict(private=False)).encode()
    token = forge(good_claims(), key=OctKey.import_key(public), alg="HS256")
    with pytest.raises(SignInError, match="signature"):
        await client.verify_id_token(token, nonce=NONCE)


async def test_an_unsigned_token_is_refused(client: OIDCClient) -> None:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none'})}.{part(good_claims())}."
    with pytest.raises(SignInError, match="signature"):
        await client.verify_id_token(token, nonce=NONCE)


async def test_a_tampered_payload_is_refused(client: OIDCClient) -> None:
    header, _, signature = forge(good_claims()).split(".")
    import base64

    payload = (
        base64.urlsafe_b64encode(json.dumps(good_claims(preferred_username="erin")).encode())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(SignInError, match="signature"):
        await client.verify_id_token(f"{header}.{payload}.{signature}", nonce=NONCE)
