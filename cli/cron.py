"""``northstar cron``: run rq's cron scheduler with the periodic jobs of ``ingest.schedule``."""

from __future__ import annotations

import click
import redis

from cli.common import Runtime
from ingest import logs
from ingest.jobs import QUEUE
from ingest.schedule import build_scheduler, configured, run_scheduler


@click.command()
@click.option("--list", "list_", is_flag=True, help="Print the schedule and exit.")
@click.pass_obj
def cron(runtime: Runtime, list_: bool) -> None:
    """Enqueue the periodic jobs (sweep, pulls, drift, maintenance) until SIGINT/SIGTERM."""
    logs.configure(runtime.settings, "cron")
    schedule = configured(runtime.settings)  # intervals some settings override
    for periodic in schedule:
        click.echo(f"{periodic.name:<18} every {periodic.every_s:>5} s  {periodic.func}")
    if list_:
        return
    connection = redis.Redis.from_url(runtime.settings.redis_url)
    try:
        run_scheduler(build_scheduler(connection, QUEUE, schedule))  # outlives Redis outages
    finally:
        connection.close()
