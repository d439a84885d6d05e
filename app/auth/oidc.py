"""The OIDC client: authorization code flow with PKCE, and strict ID token checks.

authlib builds the authorization request (state, nonce and the PKCE verifier are kept
in the server-side session) and exchanges the code. The ID token is then verified
here, against the configured issuer and a pinned list of algorithms, instead of the
algorithms the provider advertises: a provider compromised into advertising ``none``
or an HMAC algorithm must not widen what we accept.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.settings import OIDCSettings

CLIENT_NAME = "campus"
FRESH_KEY = "fresh_sign_in_requested_at"


class SignInError(Exception):
    """A sign-in attempt that must not produce a session; ``reason`` is for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(Exception):
    """The identity provider did not answer, or answered something unusable."""


class OIDCClient:
    """The portal's one relying-party client of the campus provider.

    Every failure surfaces as SignInError (do not trust this callback) or
    ProviderUnavailable (try again later), never as a driver exception.
    """

    def __init__(self, settings: OIDCSettings, redirect_uri: str) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        oauth = OAuth()
        oauth.register(
            CLIENT_NAME,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": " ".join(settings.scopes),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "timeout": settings.http_timeout_seconds,
            },
        )
        client = oauth.create_client(CLIENT_NAME)
        assert isinstance(client, StarletteOAuth2App)
        self._client = client

    async def metadata(self) -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = await self._client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(str(error)) from error
        if metadata.get("issuer") != self.settings.issuer:
            raise ProviderUnavailable("provider metadata names a different issuer")
        return metadata

    async def begin(self, request: Request, *, fresh: bool = False) -> RedirectResponse:
        """Redirect the browser to the provider's sign-in page.

        ``fresh`` asks the provider to check the password again even if its own
        session is alive (``prompt=login``, ``max_age=0``). The browser could strip
        those parameters, so the callback also demands an ``auth_time`` from after
        this moment.
        """
        await self.metadata()
        extra: dict[str, Any] = {}
        request.session.pop(FRESH_KEY, None)
        if fresh:
            extra = {"prompt": "login", "max_age": 0}
            request.session[FRESH_KEY] = int(time.time())
        try:
            response: RedirectResponse = await self._client.authorize_redirect(
                request, self.redirect_uri, **extra
            )
        except (httpx.HTTPError, ValueError, RuntimeError) as error:
            raise ProviderUnavailable(str(error)) from error
        return response

    async def finish(self, request: Request) -> tuple[dict[str, Any], str]:
        """Check the callback, redeem the code, verify the ID token; return its claims."""
        params = request.query_params
        if "error" in params:
            raise SignInError(f"provider returned error {params['error']!r}")
        state = params.get("state")
        code = params.get("code")
        if not state or not code:
            raise SignInError("callback without state or code")
        stored = request.session.get(f"_state_{CLIENT_NAME}_{state}")
        framework = self._client.framework
        saved = await framework.get_state_data(request.session, state)
        await framework.clear_state_data(request.session, state)
        if not saved or "nonce" not in saved:
            raise SignInError("state does not belong to this browser session")
        if not isinstance(stored, dict) or stored.get("exp", 0) < time.time():
            raise SignInError("state has expired")
        try:
            token = await self._client.fetch_access_token(
                code=code,
                redirect_uri=saved["redirect_uri"],
                code_verifier=saved.get("code_verifier"),
            )
        except OAuthError as error:
            raise SignInError(f"code exchange refused: {error.error}") from error
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(str(error)) from error
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise SignInError("token response without an ID token")
        claims = await self.verify_id_token(raw, nonce=saved["nonce"])
        requested = request.session.pop(FRESH_KEY, None)
        if isinstance(requested, int):
            auth_time = claims.get("auth_time")
            skew = self.settings.clock_skew_seconds
            if not isinstance(auth_time, int | float) or auth_time < requested - skew:
                raise SignInError("a fresh sign-in was asked for but the provider did not ask")
        return claims, raw

    async def _keys(self, force: bool = False) -> KeySet:
        try:
            return KeySet.import_key_set(await self._client.fetch_jwk_set(force=force))
        except (httpx.HTTPError, ValueError, RuntimeError, JoseError) as error:
            raise ProviderUnavailable(f"cannot read the provider's keys: {error}") from error

    async def verify_id_token(self, raw: str, *, nonce: str) -> dict[str, Any]:
        """Signature (pinned algorithms), issuer, audience, expiry and nonce, or SignInError."""
        registry = JWSRegistry(algorithms=self.settings.id_token_algorithms)
        try:
            token = jwt.decode(raw, await self._keys(), registry=registry)
        except (JoseError, ValueError) as error:
            try:  # the provider may have rotated its keys since we last fetched them
                token = jwt.decode(raw, await self._keys(force=True), registry=registry)
            except (JoseError, ValueError):
                raise SignInError(f"ID token signature rejected: {error}") from error
        claims = dict(token.claims)
        now = time.time()
        skew = self.settings.clock_skew_seconds
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        checks = [
            (claims.get("iss") == self.settings.issuer, "issuer"),
            (self.settings.client_id in audiences, "audience"),
            (len(audiences) == 1 or claims.get("azp") == self.settings.client_id, "azp"),
            (isinstance(claims.get("exp"), int | float) and claims["exp"] > now - skew, "exp"),
            (isinstance(claims.get("iat"), int | float) and claims["iat"] < now + skew, "iat"),
            (claims.get("nonce") == nonce, "nonce"),
            (isinstance(claims.get("sub"), str) and bool(claims["sub"]), "sub"),
        ]
        for ok, name in checks:
            if not ok:
                raise SignInError(f"ID token {name} check failed")
        return claims

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end the provider's session too (RP-initiated)."""
        metadata = await self.metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        result = await self._client.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=id_token,
            client_id=self.settings.client_id,
        )
        return str(result["url"])
