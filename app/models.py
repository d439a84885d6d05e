"""The portal's own records: people who signed in, their sessions, and the audit trail.

Slurm, the filesystem and the identity provider stay the sources of truth for
everything else; these tables only hold what the portal itself must remember.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """All timestamps are timezone-aware UTC."""
    return datetime.now(UTC)


class User(SQLModel, table=True):
    """A campus identity (issuer + subject) bound to the Unix account it maps to."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_users_issuer_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    unix_name: str = Field(max_length=64, index=True)
    display_name: str = Field(default="", max_length=255)
    email: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A server-side browser session; the cookie carries only a random id.

    ``id_hash`` is the SHA-256 of the cookie value, so a leaked database does not
    hand out live sessions. Sessions before sign-in (holding the OIDC state) have
    no user.
    """

    __tablename__ = "web_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    data: str = Field(default="{}", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    client_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=255)


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, and how it ended."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=255, index=True)
    action: str = Field(max_length=64, index=True)
    object: str = Field(default="", max_length=1024)
    outcome: str = Field(max_length=16)
    detail: str = Field(default="", sa_type=Text)
    client_ip: str = Field(default="", max_length=64)
    duration_ms: float = 0.0


class CasbinRule(SQLModel, table=True):
    """One Casbin rule (``p``) or role assignment (``g``), in the adapter's layout.

    casbin-async-sqlalchemy-adapter reads and writes these rows (it is handed this
    class as ``db_class``) and turns each back into a policy line with ``str()``, so
    the columns and ``__str__`` follow the adapter's own CasbinRule. A ``g`` row with
    ``v3 = "derived"`` was computed from Unix groups (see app/policy/roles.py).
    """

    __tablename__ = "casbin_rule"

    id: int | None = Field(default=None, primary_key=True)
    ptype: str = Field(max_length=255)
    v0: str | None = Field(default=None, max_length=255)
    v1: str | None = Field(default=None, max_length=255)
    v2: str | None = Field(default=None, max_length=255)
    v3: str | None = Field(default=None, max_length=255)
    v4: str | None = Field(default=None, max_length=255)
    v5: str | None = Field(default=None, max_length=255)

    def __str__(self) -> str:
        """``ptype, v0, v1, ...`` up to the first empty column, as the adapter loads it."""
        fields = [self.ptype]
        for value in (self.v0, self.v1, self.v2, self.v3, self.v4, self.v5):
            if value is None:
                break
            fields.append(value)
        return ", ".join(fields)


class Notification(SQLModel, table=True):
    """Something a person should hear about (a job ended), kept until they see it, so
    a tab closed at the moment it happened still shows it when reopened."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    user: str = Field(max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=32)
    # What it is about, e.g. "job:1234", so one event is recorded once.
    subject: str = Field(default="", max_length=255, index=True)
    title: str = Field(max_length=255)
    body: str = Field(default="", sa_type=Text)
    url: str = Field(default="", max_length=1024)
    seen_at: datetime | None = None


class JobWatch(SQLModel, table=True):
    """A request to be told by e-mail when a job ends (the form's "e-mail me" box);
    ``mailed_at`` is set once the message went out, so it is sent once."""

    __tablename__ = "job_watches"
    __table_args__ = (UniqueConstraint("job_id", "email", name="uq_job_watches_job_email"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=32, index=True)
    user: str = Field(max_length=64)
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    mailed_at: datetime | None = None


class PolicySeeded(SQLModel, table=True):
    """A default policy rule once added to this site (app/policy/seeding.py).

    A default rule (the core's ``default_policy.csv`` or a tool's ``Tool.policy``) is
    added at the first start that brings it and recorded here; a recorded rule that
    is no longer in ``casbin_rule`` was removed by an administrator and is not added
    again. The rule is the key, not its source, so a rule that moves from the core to
    a tool stays what it was. ``removed_at`` is when a start first found it gone.
    """

    __tablename__ = "policy_seeded"
    __table_args__ = (
        UniqueConstraint("role", "domain", "object", "action", name="uq_policy_seeded_rule"),
    )

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=255)
    domain: str = Field(max_length=255)
    object: str = Field(max_length=255)
    action: str = Field(max_length=255)
    # "core", or the name of the tool that brought it first.
    source: str = Field(max_length=64)
    seeded_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None
