"""``northstar worker``: run an ingest worker (drains, sweep, drift, maintenance jobs)."""

from __future__ import annotations

import click

from cli.common import Runtime
from ingest import logs
from ingest.worker import QUEUES, run_worker


@click.command()
@click.option("--burst", is_flag=True, help="Stop once the queues are empty (tests, batch runs).")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    default=QUEUES,
    show_default=True,
    help="Queue to work, in priority order (repeat the option for several).",
)
@click.option("--name", default=None, help="Worker name (default: rq's, unique per process).")
@click.option(
    "--log-level",
    default=None,
    help="Level of rq's per-job lines (default: NORTHSTAR_JOB_LOG_LEVEL, WARNING).",
)
@click.pass_obj
def worker(
    runtime: Runtime,
    burst: bool,
    queues: tuple[str, ...],
    name: str | None,
    log_level: str | None,
) -> None:
    """Work the ingest queues until SIGINT/SIGTERM (or until empty with --burst)."""
    logs.configure(runtime.settings, "worker")
    run_worker(runtime.settings, burst=burst, queues=queues, name=name, logging_level=log_level)
