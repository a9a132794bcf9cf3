"""Admin console writes on a source's pull settings: kind, target, query and interval.

The rules are the catalogue file's (``models.catalog_file.source_entry.PullEntry``): only a
microbatch or scheduled source is pulled, an ``http`` target is an http(s) URL, an ``sql``
pull has a query. A password in the target is shown masked (``***``); saving the masked
target keeps the stored password, and the audit row holds masked targets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from models.audit import record_change
from models.catalog_file.source_entry import MASK, PullEntry, masked
from models.enums import PullKind
from models.permissions import Principal
from models.pulls import PULLED_MODES
from models.source_admin import actor_of, locked_source

FIELDS = ("pull_kind", "pull_target", "pull_query", "pull_interval_s")


@dataclass(frozen=True, slots=True)
class SourcePull:
    """How the workers fetch a source, or ``kind`` None for a source that is not pulled."""

    kind: PullKind | None
    target: str | None
    query: str | None
    interval_s: int | None

    def __post_init__(self) -> None:
        if self.kind is None:
            return
        try:
            PullEntry(
                kind=self.kind, target=self.target or "", query=self.query,
                interval_s=self.interval_s,
            )  # fmt: skip
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{where}: {message}" if where else message) from None

    def values(self) -> dict[str, Any]:
        if self.kind is None:
            return dict.fromkeys(FIELDS)
        return {
            "pull_kind": self.kind,
            "pull_target": self.target,
            "pull_query": self.query if self.kind is PullKind.SQL else None,
            "pull_interval_s": self.interval_s,
        }


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the audit log keeps them: enum values, the target's password masked."""
    shown = dict(values)
    shown["pull_target"] = masked(values["pull_target"])
    kind = values["pull_kind"]
    shown["pull_kind"] = kind.value if isinstance(kind, PullKind) else kind
    return shown


def update_pull(
    session: Session, principal: Principal, key: str, pull: SourcePull
) -> dict[str, Any]:
    """Set the pull settings; returns the fields changed (audited as one ``source.update``
    with masked targets; nothing when nothing changed).

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
        ValueError: a streaming source, or a masked password that is not the stored one.
    """
    source = locked_source(session, principal, key)
    wanted = pull.values()
    if pull.kind is not None and source.refresh_mode not in PULLED_MODES:
        raise ValueError(
            f"only a microbatch or scheduled source is pulled; this one is "
            f"{source.refresh_mode.value}"
        )
    target = wanted["pull_target"]
    if target is not None and MASK in target:
        if source.pull_target is None or masked(source.pull_target) != target:
            raise ValueError(f"the password is masked ({MASK!r}): write it out")
        wanted["pull_target"] = source.pull_target
    stored = {name: getattr(source, name) for name in FIELDS}
    changed = [name for name in FIELDS if stored[name] != wanted[name]]
    if not changed:
        return {}
    before, after = _shown(stored), _shown(wanted)
    for name in changed:
        setattr(source, name, wanted[name])
    record_change(
        session, actor_of(principal), "source.update", "source", key,
        before={n: before[n] for n in changed}, after={n: after[n] for n in changed},
    )  # fmt: skip
    session.flush()
    return {name: after[name] for name in changed}
