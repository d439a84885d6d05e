"""Tier one of the security model: sessions, CSRF, headers and login throttling."""
