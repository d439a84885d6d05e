"""What the Data tool's verbs need besides the gate's own services: its store, its
settings and the vault (provided once at start, ``Tool.provides``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.audit import Auditor
from wrappers.data.models import DataConnection, Transfer
from wrappers.data.settings import DataSettings, SiteConnection
from wrappers.data.store import DataStore
from wrappers.data.vault import Vault, VaultError

__all__ = ["Data"]


@dataclass(frozen=True)
class Data:
    store: DataStore
    settings: DataSettings
    vault: Vault
    # A refusal found only when the worker reports it (an address the guard refused,
    # minutes after the verb that started it was audited) is audited by the verb
    # that reads it; the gate's own auditor is not among a verb's services.
    auditor: Auditor | None = None

    def site(self, connection_id: str) -> SiteConnection | None:
        return next((c for c in self.settings.connections if c.id == connection_id), None)

    def connection_values(self, row: DataConnection) -> tuple[dict[str, Any], dict[str, str]]:
        """(plain fields, secrets) of her saved connection; secrets {} if the key no
        longer opens them (she is asked for them again)."""
        try:
            secrets = self.vault.open(row.secret_blob, f"connection:{row.owner}/{row.id}")
        except VaultError:
            secrets = {}
        return json.loads(row.fields or "{}"), secrets

    def site_values(self, site: SiteConnection) -> tuple[dict[str, Any], dict[str, str]]:
        return dict(site.fields), {k: v.get_secret_value() for k, v in site.secrets.items()}

    def transfer_secrets(self, row: Transfer) -> dict[str, str]:
        try:
            return self.vault.open(row.secret_blob, f"transfer:{row.owner}/{row.id}")
        except VaultError:
            return {}
