"""The Help tool's settings section: ``[help]`` in the TOML file, ``ONESTOP_HELP__*``
in the environment (README: Getting help, for administrators).

What a site decides about its help desk: the address new tickets and replies are
copied to, the answers its staff reuse, and how much one ticket may carry.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.settings import Settings

__all__ = ["CannedAnswer", "HelpSettings", "help_settings"]


class CannedAnswer(BaseModel):
    """An answer staff give often, under a short title ("Ask for more memory")."""

    title: str = Field(min_length=1, max_length=120)
    text: str = Field(min_length=1, max_length=20_000)


class HelpSettings(BaseModel):
    # The site's help desk (RT, OTRS, ServiceNow take e-mail): new tickets and replies
    # are copied there. Empty: tickets stay in the portal.
    helpdesk_address: str = Field(default="", max_length=320)
    # Where the help desk's replies go: "help@portal.example" makes each question's
    # reply address help+<its token>@portal.example. Empty: the portal's own From
    # address ([mail] from_address) is used so.
    reply_address: str = Field(default="", max_length=320)
    # The incoming mail listener (aiosmtpd) that takes those replies; 0: none. Put it
    # behind the site's mail relay, which hands it the help desk's replies.
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=0, ge=0, le=65535)
    canned_answers: list[CannedAnswer] = Field(default_factory=list)
    # Limits on what one ticket carries, said plainly when passed.
    max_title_chars: int = Field(default=200, ge=20, le=1000)
    max_text_chars: int = Field(default=20_000, ge=100, le=200_000)
    max_section_chars: int = Field(default=20_000, ge=100, le=200_000)
    max_attachments: int = Field(default=10, ge=0, le=100)
    # Screenshots on one question, and the size of each (PNG or JPEG).
    max_screenshots: int = Field(default=5, ge=0, le=50)
    max_screenshot_bytes: int = Field(default=5 * 1024 * 1024, ge=10_000, le=50 * 1024 * 1024)
    # Lines of a job's error output or a notebook's log put in the context.
    tail_lines: int = Field(default=40, ge=1, le=1000)
    # How long one "See what she sees" view lasts before staff must open it again.
    view_minutes: int = Field(default=15, ge=1, le=240)
    # The site's rule for admins: they may see what she sees without her consent
    # (still read-only, listed in her question and audited). Off: consent only.
    admins_view_without_consent: bool = False


def help_settings(settings: Settings) -> HelpSettings:
    return settings.section("help", HelpSettings)
