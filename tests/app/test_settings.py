from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings, load_settings


def test_defaults_without_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
    settings = load_settings()
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.oidc.username_claim == "preferred_username"
    assert not settings.tls


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "onestop.toml"
    config.write_text(
        'public_url = "https://hpc.example.edu"\n'
        'allowed_groups = ["hpc-users"]\n'
        "[oidc]\n"
        'issuer = "https://login.example.edu"\n'
        'client_id = "portal"\n'
    )
    monkeypatch.setenv("ONESTOP_CONFIG", str(config))
    monkeypatch.setenv("ONESTOP_OIDC__CLIENT_ID", "from-env")
    settings = load_settings()
    assert settings.tls and settings.origin == "https://hpc.example.edu"
    assert settings.allowed_groups == ["hpc-users"]
    assert settings.oidc.issuer == "https://login.example.edu"
    assert settings.oidc.client_id == "from-env", "the environment wins over the file"


def test_a_typo_in_the_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "onestop.toml"
    config.write_text('pubic_url = "https://hpc.example.edu"\n')
    monkeypatch.setenv("ONESTOP_CONFIG", str(config))
    with pytest.raises(ValidationError, match="pubic_url"):
        load_settings()


def test_public_url_must_be_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
    with pytest.raises(ValidationError, match="public_url"):
        load_settings(public_url="hpc.example.edu")


def test_every_setting_is_in_the_readme() -> None:
    """The admin's settings table names every key, nested ones as ``section.key``."""
    from pathlib import Path

    from pydantic import BaseModel

    from app.settings import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        found: list[str] = []
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += keys(kind, f"{prefix}{name}.")
            else:
                found.append(prefix + name)
        return found

    from app.tools import discover, settings_sections

    # The core's keys, and each tool's section (Tool.settings) as "<tool>.key".
    everything = [key for key in keys(Settings) if key != "sections"]
    for name, model in settings_sections(discover()).items():
        everything += keys(model, f"{name}.")
    assert len(everything) > 30 and "notebooks.jupyter_env" in everything
    assert [key for key in everything if f"`{key}`" not in readme] == []


@pytest.mark.parametrize(
    ("public_url", "origin"),
    [
        ("https://hpc.example.edu:443/", "https://hpc.example.edu"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("https://hpc.example.edu:8443/portal", "https://hpc.example.edu:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_the_origin_is_spelled_as_browsers_send_it(public_url: str, origin: str) -> None:
    """/ws and the notebook proxy compare it with the Origin header byte for byte."""
    assert Settings(public_url=public_url).origin == origin
