"""``northstar simulate``: post live demo events, with faults, to a running ingest API."""

from __future__ import annotations

import signal
from types import FrameType

import click
import redis

from cli.common import Runtime
from ingest import logs
from ingest.demo.catalog import SOURCES
from ingest.demo.generator import DEFAULT_SEED
from ingest.demo.history import demo_generator
from ingest.faults import DEFAULT_SCHEDULE, NO_FAULTS
from ingest.simulator import Simulator, mean_rate_at_scale_one
from ingest.simulator_http import IngestClient
from ingest.simulator_run import Pacing, provision_keys, revoke_keys, run


@click.command()
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Mean events per second over a week, all sources [default: NORTHSTAR_SIMULATOR_RATE, "
    "200]; the rate of the moment follows the hour and the weekday.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Instead of --rate: the volume of `northstar demo history --scale`, so the live "
    "stream continues the history at the same level.",
)
@click.option(
    "--url", default=None, help="Base URL of the web process [default: NORTHSTAR_SIMULATOR_URL]."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds [default: run until Ctrl-C].",
)
@click.option("--faults/--no-faults", default=True, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.pass_obj
def simulate(
    runtime: Runtime,
    rate: float | None,
    scale: float | None,
    url: str | None,
    duration: float | None,
    faults: bool,
    seed: int,
) -> None:
    """Post realistic events for every demo source to the ingest API, with scheduled faults."""
    settings = runtime.settings
    logs.configure(settings, "simulator")
    if rate is not None and scale is not None:
        raise click.UsageError("give --rate or --scale, not both")
    if scale is not None:
        rate = scale * mean_rate_at_scale_one(demo_generator(seed=seed))
    rate = rate or settings.simulator_rate
    url = url or settings.simulator_url
    schedule = DEFAULT_SCHEDULE if faults else NO_FAULTS
    click.echo(f"simulating {rate:g} events/s (weekly mean) to {url}")
    click.echo("\n".join(schedule.describe()) if faults else "faults: off")
    client = redis.Redis.from_url(settings.redis_url)
    http = IngestClient(url)
    keys = provision_keys(runtime.engine, client, [s.key for s in SOURCES])
    # honcho and platforms stop processes with SIGTERM: end like Ctrl-C, revoking the keys.
    signal.signal(signal.SIGTERM, _interrupt)
    click.echo(f"created {len(keys)} API keys labelled 'simulator' (revoked on exit)")
    simulator = Simulator(http, keys, schedule, rate=rate, seed=seed)
    try:
        run(simulator, Pacing(duration_s=duration))
    except KeyboardInterrupt:
        click.echo(f"stopped: {simulator.stats.line()}")
    finally:
        http.close()
        revoke_keys(runtime.engine, client, keys.values())
        client.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
