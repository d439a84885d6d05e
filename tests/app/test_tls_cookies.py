"""Behind TLS the session cookie is ``__Host-`` prefixed and Secure, and HSTS is sent."""

from __future__ import annotations

from pathlib import Path

import httpx
from alembic import command

from app.db import alembic_config
from app.main import create_app
from app.settings import load_settings


async def test_cookie_and_headers_when_the_portal_is_https(tmp_path: Path, idp: str) -> None:
    url = f"sqlite:///{tmp_path}/tls.db"
    command.upgrade(alembic_config(url), "head")
    app = create_app(load_settings(database_url=url, public_url="https://hpc.example.edu"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hpc.example.edu") as client:
        answer = await client.get("/login")
    await app.state.engine.dispose()
    assert answer.status_code == 302
    assert (
        "redirect_uri=https%3A%2F%2Fhpc.example.edu%2Fauth%2Fcallback" in answer.headers["location"]
    )
    set_cookie = answer.headers["set-cookie"]
    name = set_cookie.split("=", 1)[0]
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
    assert name == "__Host-onestop"
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "domain" not in attributes, "__Host- cookies must not name a domain"
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert "connect-src 'self' wss://hpc.example.edu" in answer.headers["content-security-policy"]
