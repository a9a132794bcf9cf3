"""``northstar users``: the first admin of an empty installation, without code or the console."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cli.main import cli
from integration.factories import make_catalog
from models.accounts import BUILTIN_ROLES, find_user, upsert_role, verify_password
from models.admin.links import hash_token
from models.audit import Actor
from models.queries.admin.links import open_link
from models.settings import get_settings

PUBLIC_URL = "https://northstar.example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def installed(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Units acme > unit2, unit3; the built-in roles (as migration 0011 leaves them)."""
    monkeypatch.setenv("NORTHSTAR_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    make_catalog(db, children=2)
    with Session(db) as session, session.begin():
        for spec in BUILTIN_ROLES:
            upsert_role(session, spec, Actor("tests"))
    yield db
    get_settings.cache_clear()


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def audit_actions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT action FROM audit_log WHERE actor = 'system:cli' ORDER BY id")
            ).scalars()
        )


def user_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM users")).scalar_one())


def test_create_without_a_password_prints_a_working_invitation_link(installed: Engine) -> None:
    result = run(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--role", "admin",
        "--scope", "acme",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    links = [line for line in result.stdout.splitlines() if line.startswith(PUBLIC_URL)]
    assert len(links) == 1
    token = links[0].removeprefix(f"{PUBLIC_URL}/invite/")
    with installed.connect() as connection:
        link = open_link(connection, token, dt.datetime.now(dt.UTC))
        stored = connection.execute(text("SELECT token_hash FROM invitations")).scalar_one()
    assert link is not None
    assert link.email == "ada@example.com"
    assert stored == hash_token(token)  # only the hash is kept
    with Session(installed) as session:
        user = find_user(session, "ada@example.com")
        assert user is not None
        assert user.password_hash is None  # no usable password until the link is used
    assert audit_actions(installed) == ["user.create", "user.invite_link"]


def test_create_with_a_password_on_stdin_can_sign_in_at_once(installed: Engine) -> None:
    result = run(
        "users", "create", "--email", "sam@example.com", "--name", "Sam", "--role", "steward",
        "--role", "executive", "--scope", "unit2", "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "/invite/" not in result.output
    with Session(installed) as session:
        user = find_user(session, "sam@example.com")
        assert user is not None
        assert verify_password(user.password_hash, PASSWORD)
    listed = run("users", "list")
    assert listed.exit_code == 0, listed.output
    assert "sam@example.com\tSam\texecutive,steward\tunit2\tyes" in listed.stdout.splitlines()


@pytest.mark.parametrize(
    ("args", "stdin", "refusal"),
    [
        (("--role", "boss"), None, "unknown role 'boss' (roles: admin, executive, steward)"),
        (("--role", "admin", "--scope", "mars"), None, "unknown org unit 'mars'"),
        (("--role", "admin", "--password-stdin"), "short\n", "at least 12 characters"),
        (
            ("--role", "admin", "--password-stdin"),
            "new@example.com\n",
            "must not be the e-mail address",
        ),
    ],
)
def test_create_refuses_bad_input_in_one_line_and_creates_nothing(
    installed: Engine, args: tuple[str, ...], stdin: str | None, refusal: str
) -> None:
    result = run(
        "users", "create", "--email", "new@example.com", "--name", "New", *args, stdin=stdin
    )

    assert result.exit_code == 1
    assert refusal in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert user_count(installed) == 0
    assert audit_actions(installed) == []


def test_create_refuses_a_duplicate_email_whatever_its_case(installed: Engine) -> None:
    first = run("users", "create", "--email", "ada@example.com", "--name", "Ada", "--role", "admin")
    assert first.exit_code == 0, first.output

    again = run("users", "create", "--email", "ADA@example.com", "--name", "A", "--role", "admin")

    assert again.exit_code == 1
    assert "a user with e-mail address ADA@example.com already exists" in again.output
    assert user_count(installed) == 1


def test_an_invitation_needs_the_public_url(
    installed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NORTHSTAR_PUBLIC_URL")
    get_settings.cache_clear()

    result = run(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--role", "admin"
    )

    assert result.exit_code == 1
    assert "NORTHSTAR_PUBLIC_URL is not set" in result.output
    assert user_count(installed) == 0


def test_deactivate_ends_sessions_is_audited_and_refuses_twice(installed: Engine) -> None:
    run(
        "users", "create", "--email", "eve@example.com", "--name", "Eve", "--role", "executive",
        "--password-stdin", stdin=PASSWORD,
    )  # fmt: skip

    result = run("users", "deactivate", "--email", "Eve@example.com")

    assert result.exit_code == 0, result.output
    with Session(installed) as session:
        user = find_user(session, "eve@example.com")
        assert user is not None
        assert not user.is_active
        assert user.session_epoch == 1
    assert audit_actions(installed)[-2:] == ["user.deactivate", "user.sessions_ended"]
    assert "eve@example.com\tEve\texecutive\t-\tno" in run("users", "list").stdout
    again = run("users", "deactivate", "--email", "eve@example.com")
    assert again.exit_code == 1
    assert "already deactivated" in again.output
    unknown = run("users", "deactivate", "--email", "nobody@example.com")
    assert unknown.exit_code == 1
    assert "no user with e-mail address nobody@example.com" in unknown.output
