"""Events: primary key ordered by time, which makes the separate (source_id, ts) index redundant.

Identity is unchanged — the same three columns are unique — but ``(source_id, ts, event_id)``
puts a live stream's inserts at the right-hand edge of each source's key range instead of at
random places (event ids are often UUIDs), and it answers every ``source_id`` + time-range
read that ``ix_events_source_id_ts`` served, so that index (and its write cost) goes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE events DROP CONSTRAINT pk_events")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (source_id, ts, event_id)")
    op.execute("DROP INDEX IF EXISTS ix_events_source_id_ts")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_events_source_id_ts ON events (source_id, ts)")
    op.execute("ALTER TABLE events DROP CONSTRAINT pk_events")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (source_id, event_id, ts)")
