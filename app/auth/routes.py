"""Sign-in, the provider's callback, sign-out.

Every outcome, good or bad, is audited; a failed sign-in leaves no session behind.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

import httpx
from sqlmodel import or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth.identity import Account, NoAccountError, map_account
from app.auth.next_url import safe_next
from app.auth.oidc import OIDCClient, ProviderUnavailable, SignInError
from app.auth.profile import lookup_profile
from app.db import transaction
from app.models import User, utcnow
from app.security.csrf import csrf_token
from app.security.sessions import Identity, session_of
from app.web.templating import message_page


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _actor(request: Request) -> str:
    identity = session_of(request.scope).identity
    return identity.unix_name if identity else "anonymous"


async def _throttled(request: Request) -> Response | None:
    if request.app.state.login_limiter.allow(_client_ip(request)):
        return None
    await request.app.state.auditor.record(
        actor="anonymous", action="auth.login", outcome="throttled", client_ip=_client_ip(request)
    )
    return message_page(
        request,
        "Too many sign-in attempts",
        "Please wait a minute and try again.",
        status_code=429,
        tone="error",
    )


async def _provider_down(request: Request, reason: str) -> Response:
    await request.app.state.auditor.record(
        actor=_actor(request),
        action="auth.login",
        outcome="provider-down",
        client_ip=_client_ip(request),
        reason=reason,
    )
    return message_page(
        request,
        "The campus sign-in service is not answering",
        "Onestop could not reach the campus sign-in service. Please try again in a few "
        "minutes; if it keeps happening, tell your HPC team.",
        status_code=503,
        action_url="/login",
        action_label="Try again",
        tone="error",
    )


async def login(request: Request) -> Response:
    state = session_of(request.scope)
    target = safe_next(request.query_params.get("next"))
    fresh = request.query_params.get("fresh") == "1"
    if state.identity is not None and not fresh:
        return RedirectResponse(target, status_code=303)
    if (refusal := await _throttled(request)) is not None:
        return refusal
    state.data["next"] = target
    oidc: OIDCClient = request.app.state.oidc
    try:
        return await oidc.begin(request, fresh=fresh)
    except ProviderUnavailable as error:
        return await _provider_down(request, str(error))


async def callback(request: Request) -> Response:
    if (refusal := await _throttled(request)) is not None:
        return refusal
    started = time.perf_counter()
    state = session_of(request.scope)
    auditor = request.app.state.auditor
    oidc: OIDCClient = request.app.state.oidc
    settings = request.app.state.settings
    try:
        claims, raw_id_token = await oidc.finish(request)
        account = await asyncio.to_thread(map_account, claims, settings)
        identity = await _remember(request, claims, account)
    except ProviderUnavailable as error:
        return await _provider_down(request, str(error))
    except SignInError as error:
        # Someone already signed in keeps their session: a forged callback link
        # must not be a way to sign people out.
        if state.identity is None:
            state.destroy()
        await auditor.record(
            actor=_actor(request),
            action="auth.login",
            outcome="refused",
            client_ip=_client_ip(request),
            reason=error.reason,
        )
        return message_page(
            request,
            "Sign-in did not complete",
            "The answer from the campus sign-in service could not be trusted or had "
            "expired, so you were not signed in. This can happen after using the back "
            "button or an old link.",
            status_code=400,
            action_url="/login",
            action_label="Sign in again",
            tone="error",
        )
    except NoAccountError as error:
        state.destroy()  # whoever was signed in here, the person at the browser changed
        await auditor.record(
            actor=error.username or "anonymous",
            action="auth.login",
            outcome=error.outcome,
            client_ip=_client_ip(request),
            reason=error.reason,
        )
        return message_page(
            request,
            error.heading,
            *error.explanation,
            status_code=403,
            action_url=await _provider_sign_out_url(request, None),
            action_label="Use a different campus account",
            tone="error",
        )
    profile = await asyncio.to_thread(lookup_profile, account.unix_name, settings)
    await request.app.state.policy.sync_derived_roles(
        account.unix_name, projects=profile.projects, is_admin=profile.admin
    )
    target = safe_next(state.data.get("next"))
    state.data.clear()
    state.data["profile"] = {**asdict(profile), "at": time.time()}
    state.data["id_token"] = raw_id_token
    if isinstance(claims.get("auth_time"), int | float):
        state.data["auth_time"] = int(claims["auth_time"])
    state.sign_in(identity)
    csrf_token(request.scope)  # minted once here, so parallel first pages agree on it
    await auditor.record(
        actor=account.unix_name,
        action="auth.login",
        outcome="ok",
        client_ip=_client_ip(request),
        duration_ms=(time.perf_counter() - started) * 1000,
        subject=claims["sub"],
    )
    return RedirectResponse(target, status_code=303)


async def _remember(request: Request, claims: dict[str, Any], account: Account) -> Identity:
    """Create or update the person's record; return who the session now belongs to.

    A campus identity (issuer + subject) is bound to one Unix account at its first
    sign-in. ``preferred_username`` is not guaranteed unique or stable by OIDC, so a
    later sign-in that would move the binding is refused, not followed.
    """
    issuer, subject = claims["iss"], claims["sub"]
    async with transaction(request.app.state.db_sessions) as db:
        user = (
            await db.exec(select(User).where(User.issuer == issuer, User.subject == subject))
        ).first()
        holder = (
            await db.exec(
                select(User).where(
                    User.unix_name == account.unix_name,
                    or_(User.issuer != issuer, User.subject != subject),
                )
            )
        ).first()
        if holder is not None or (user is not None and user.unix_name != account.unix_name):
            raise NoAccountError(
                "identity bound to another account",
                account.unix_name,
                outcome="conflict",
                heading="Your campus account does not match your cluster account",
                explanation=(
                    "The cluster account this campus account names is already linked to a "
                    "different campus identity, so you were not signed in.",
                    "Please contact your HPC team; they can check and fix the link.",
                ),
            )
        if user is None:
            user = User(issuer=issuer, subject=subject, unix_name=account.unix_name)
        user.display_name = account.display_name
        user.email = account.email
        user.last_login_at = utcnow()
        db.add(user)
        await db.flush()
        assert user.id is not None
        return Identity(user.id, user.unix_name, user.display_name, user.email)


async def _provider_sign_out_url(request: Request, id_token: str | None) -> str:
    """The provider's end-session address, returning to our signed-out page; that page
    itself when the provider cannot be asked (the portal session is gone either way)."""
    settings = request.app.state.settings
    oidc: OIDCClient = request.app.state.oidc
    try:
        url = await oidc.logout_url(id_token, settings.public_url + "/signed-out")
    except (ProviderUnavailable, httpx.HTTPError):
        url = None
    return url or "/signed-out"


async def logout(request: Request) -> Response:
    state = session_of(request.scope)
    id_token = state.data.get("id_token")
    who = state.identity.unix_name if state.identity else "anonymous"
    state.destroy()
    await request.app.state.auditor.record(
        actor=who, action="auth.logout", outcome="ok", client_ip=_client_ip(request)
    )
    return RedirectResponse(await _provider_sign_out_url(request, id_token), status_code=303)


async def signed_out(request: Request) -> Response:
    return message_page(
        request,
        "You are signed out",
        "You have left Onestop. To be safe on a shared computer, close the browser window.",
        action_url="/login",
        action_label="Sign in again",
    )


routes = [
    Route("/login", login, methods=["GET"]),
    Route("/auth/callback", callback, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/signed-out", signed_out, methods=["GET"]),
]
