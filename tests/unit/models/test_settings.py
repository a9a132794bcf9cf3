"""Settings from the environment: production safety, dev defaults, platform URLs, CLI errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cli.main import cli
from models.settings import ConfigurationError, Environment, get_settings, load_settings

STRONG_SECRET = "bN7q-Xv2LrT9wKp4ZsYc8Hf3Jd6Gm1Ea5Ru0Qi"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("NORTHSTAR_SECRET_KEY", "NORTHSTAR_DEMO", "NORTHSTAR_ENV", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("secret", [None, "changeme", "short-but-random-9f", "a" * 64])
def test_production_refuses_a_missing_or_weak_secret_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("NORTHSTAR_SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="NORTHSTAR_SECRET_KEY"):
        load_settings()


def test_production_starts_with_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    monkeypatch.setenv("NORTHSTAR_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("NORTHSTAR_PUBLIC_URL", "https://northstar.example.com")
    settings = load_settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.secret_key == STRONG_SECRET


@pytest.mark.parametrize(
    "url", [None, "northstar.example.com", "https://", "https://x.example/?a=1"]
)
def test_production_refuses_a_missing_or_bad_public_url(
    monkeypatch: pytest.MonkeyPatch, url: str | None
) -> None:
    """Links to set a password must never take their host from a request in production."""
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    monkeypatch.setenv("NORTHSTAR_SECRET_KEY", STRONG_SECRET)
    if url is not None:
        monkeypatch.setenv("NORTHSTAR_PUBLIC_URL", url)
    with pytest.raises(ConfigurationError, match="NORTHSTAR_PUBLIC_URL"):
        load_settings()


def test_production_refuses_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    monkeypatch.setenv("NORTHSTAR_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("NORTHSTAR_PUBLIC_URL", "https://northstar.example.com")
    monkeypatch.setenv("NORTHSTAR_DEMO", "1")
    with pytest.raises(ConfigurationError, match="NORTHSTAR_DEMO"):
        load_settings()


def test_dev_needs_no_secret() -> None:
    settings = load_settings()
    assert settings.env is Environment.DEV
    assert settings.secret_key is None
    assert settings.demo_mode is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/kpis", "postgresql+psycopg://u:p@db.example:5432/kpis"),
        ("postgresql://u@db.example/kpis", "postgresql+psycopg://u@db.example/kpis"),
        ("postgresql+psycopg://u@db.example/kpis", "postgresql+psycopg://u@db.example/kpis"),
    ],
)
def test_platform_database_urls_get_the_psycopg_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    settings = load_settings()
    assert settings.sqlalchemy_url == expected
    assert settings.libpq_url == expected.replace("postgresql+psycopg://", "postgresql://")


def test_an_unknown_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "staging")
    with pytest.raises(ConfigurationError, match="NORTHSTAR_ENV"):
        load_settings()


def test_the_command_line_reports_bad_settings_in_one_line_and_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    result = CliRunner().invoke(cli, ["demo", "seed"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "NORTHSTAR_SECRET_KEY" in lines[0]
