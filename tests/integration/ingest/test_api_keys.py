"""Source API keys: shown once, stored hashed, audited, revocable; and the CLI around them."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.main import cli
from ingest.sources_cache import CATALOG_VERSION_KEY
from models.api_keys import create_key, hash_key, revoke_key, verify_key
from models.audit import Actor
from models.catalog import OrgUnitSpec, SourceSpec, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import OrgLevel, RefreshMode
from models.logs import AuditLog
from models.sources import Source, SourceApiKey

ACTOR = Actor("tests")
FIELDS = (
    FieldSpec(name="id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
    FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
    FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
)


@pytest.fixture
def source(session: Session) -> Source:
    upsert_org_unit(session, OrgUnitSpec("acme", "Acme", OrgLevel.COMPANY), ACTOR)
    spec = SourceSpec(
        key="shop",
        name="Shop",
        owner_unit_key="acme",
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=60,
        expected_volume_per_15m=None,
        retention_days=30,
        fields=FIELDS,
    )
    created = upsert_source(session, spec, ACTOR)
    session.commit()
    return created


def test_a_key_is_returned_once_and_stored_only_as_a_hash(session: Session, source: Source) -> None:
    plaintext = create_key(session, source, ACTOR, label="shop backend")
    session.commit()

    assert plaintext.startswith("ns_")
    stored = session.scalars(select(SourceApiKey)).one()
    assert stored.key_hash == hash_key(plaintext) != plaintext
    assert plaintext.split("_")[1] == stored.prefix
    assert verify_key(session, plaintext) == (source.id, stored.id)
    assert verify_key(session, plaintext + "x") is None
    audit = session.scalars(
        select(AuditLog).where(AuditLog.action == "source_api_key.create")
    ).one()
    assert audit.after is not None
    assert audit.after["prefix"] == stored.prefix
    assert plaintext not in str(audit.after)
    assert stored.key_hash not in str(audit.after)


def test_revoked_and_expired_keys_no_longer_verify(session: Session, source: Source) -> None:
    kept = create_key(session, source, ACTOR)
    revoked = create_key(session, source, ACTOR)
    expiring = create_key(
        session, source, ACTOR, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    session.commit()

    revoke_key(session, revoked.split("_")[1], ACTOR)
    revoke_key(session, revoked.split("_")[1], ACTOR)  # a second revocation changes nothing
    session.commit()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert verify_key(session, kept, now=later) is not None
    assert verify_key(session, revoked) is None
    assert verify_key(session, expiring) is not None
    assert verify_key(session, expiring, now=later) is None
    revocations = session.scalars(
        select(AuditLog).where(AuditLog.action == "source_api_key.revoke")
    ).all()
    assert len(revocations) == 1
    with pytest.raises(LookupError, match="no API key"):
        revoke_key(session, "deadbeef", ACTOR)


def test_the_cli_creates_lists_and_revokes_keys(
    session: Session, source: Source, redis_client: redis.Redis
) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["sources", "create-key", "shop", "--label", "till"])
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip()
    assert verify_key(session, plaintext) is not None
    assert "cannot show it again" in created.stderr
    assert redis_client.get(CATALOG_VERSION_KEY) == b"1"  # web processes reload their keys

    prefix = plaintext.split("_")[1]
    listed = runner.invoke(cli, ["sources", "list-keys", "shop"])
    assert listed.exit_code == 0, listed.output
    assert f"ns_{prefix}_…  active" in listed.stdout
    assert "till" in listed.stdout
    assert plaintext not in listed.stdout

    revoked = runner.invoke(cli, ["sources", "revoke-key", prefix])
    assert revoked.exit_code == 0, revoked.output
    assert verify_key(session, plaintext) is None
    assert redis_client.get(CATALOG_VERSION_KEY) == b"2"
    assert "revoked" in runner.invoke(cli, ["sources", "list-keys", "shop"]).stdout

    unknown = runner.invoke(cli, ["sources", "create-key", "nope"])
    assert unknown.exit_code != 0
    assert "no source with key 'nope'" in unknown.output
