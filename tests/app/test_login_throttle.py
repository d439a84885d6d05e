"""Sign-in attempts are limited per client address; the limit is a clear page, not a hang."""

from __future__ import annotations

from pathlib import Path

import httpx
from alembic import command

from app.db import alembic_config
from app.main import create_app
from app.security.ratelimit import LoginRateLimiter
from app.settings import load_settings


def test_the_limiter_counts_per_address_in_a_sliding_minute() -> None:
    limiter = LoginRateLimiter(per_minute=2)
    assert limiter.allow("10.0.0.1") and limiter.allow("10.0.0.1")
    assert not limiter.allow("10.0.0.1")
    assert limiter.allow("10.0.0.2"), "another address has its own budget"


async def test_too_many_sign_ins_get_a_plain_page(tmp_path: Path, idp: str) -> None:
    url = f"sqlite:///{tmp_path}/throttle.db"
    command.upgrade(alembic_config(url), "head")
    app = create_app(
        load_settings(
            database_url=url,
            public_url="http://127.0.0.1:8001",
            login_attempts_per_minute=3,
            log_json=True,
        )
    )
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8001") as client:
        for _ in range(3):
            answer = await client.get("/login")
            assert answer.status_code == 302
            assert answer.headers["location"].startswith(idp)
        refused = await client.get("/login")
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
    await app.state.engine.dispose()
