"""Compare the distributions installed in this interpreter's environment with a lock file.

    python scripts/lock_check.py [LOCK]            # print the differences (exit 0)
    python scripts/lock_check.py [LOCK] --extras   # print only the names installed but not locked

LOCK defaults to requirements.lock next to this folder. A difference is a locked distribution
that is missing or installed at another version, or one installed that the lock does not hold
(pip and the project itself excepted). `.ci/run` prints them; there should be none.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
NOT_LOCKED = {"pip", "northstar"}


def locked(lock: Path) -> dict[str, str]:
    """Name -> version of every pin in ``lock`` whose marker holds here."""
    pins: dict[str, str] = {}
    logical = ""
    for raw in lock.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        text = " ".join(part for part in logical.split() if not part.startswith("--hash"))
        logical = ""
        if not text.strip():
            continue
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (spec,) = requirement.specifier
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def installed() -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }


def main(argv: list[str]) -> int:
    extras_only = "--extras" in argv
    paths = [a for a in argv if not a.startswith("--")]
    lock = Path(paths[0]) if paths else ROOT / "requirements.lock"
    pins, present = locked(lock), installed()
    extras = sorted(set(present) - set(pins) - NOT_LOCKED)
    if extras_only:
        for name in extras:
            print(name)
        return 0
    differences = [
        f"  {name}: locked {version}, installed {present.get(name, 'nothing')}"
        for name, version in sorted(pins.items())
        if present.get(name) != version
    ] + [f"  {name}: installed {present[name]}, not in the lock" for name in extras]
    where = f"{sys.prefix} against {lock.name}"
    if differences:
        print(f"installed versions that differ from the lock ({where}):")
        print("\n".join(differences))
    else:
        print(f"installed versions: all {len(pins)} as locked, nothing else ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
