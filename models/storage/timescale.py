"""TimescaleDB storage (being written): see issue 2."""

from __future__ import annotations

INSTALL: tuple[str, ...] = ()
UNINSTALL: tuple[str, ...] = ()
WRITE = ""
