"""Processes of the ingest benchmark: start each in its own process group, watch, always stop.

CPU and memory come from /proc (psutil is not a dependency): ``utime + stime`` of every
process of a group (children included, so gunicorn's workers count with its arbiter), and
``VmHWM``, the peak resident set of each process since it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(p) for p in text]
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def pids_named(prefix: str) -> list[int]:
    """Processes whose command name starts with ``prefix`` (e.g. every PostgreSQL backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith(prefix):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass
class Managed:
    """One started command (a process group) and the peak RSS seen of each of its processes."""

    name: str
    popen: subprocess.Popen[bytes]
    peak_mb: dict[int, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        return tree(self.pid)

    def sample(self) -> None:
        for pid in self.pids():
            self.peak_mb[pid] = max(self.peak_mb.get(pid, 0.0), peak_rss_mb(pid))

    def alive(self) -> bool:
        return self.popen.poll() is None


class Processes:
    """Every process the bench started; :meth:`stop_all` ends them (their groups) whatever
    happened. Use as a context manager."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Managed] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Managed:
        out = (self.log_dir / f"{name}.log").open("wb")
        popen = subprocess.Popen(  # noqa: S603 (the bench's own fixed commands)
            list(argv),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        out.close()
        managed = Managed(name, popen)
        self.started.append(managed)
        return managed

    def named(self, prefix: str) -> list[Managed]:
        return [m for m in self.started if m.name.startswith(prefix)]

    def sample(self) -> None:
        for managed in self.started:
            managed.sample()

    def check_alive(self) -> None:
        dead = [m.name for m in self.started if not m.alive()]
        if dead:
            raise RuntimeError(f"process(es) exited early: {dead} (see {self.log_dir})")

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every group, then SIGKILL what is still there after ``timeout_s``."""
        for managed in self.started:
            _signal_group(managed.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for managed in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                managed.popen.wait(max(0.1, deadline - time.monotonic()))
            _signal_group(managed.pid, signal.SIGKILL)
            managed.popen.wait()
        self.started.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()


class Sampler:
    """Samples peak RSS of every started process each second, in the background."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(1.0):
            self.procs.sample()

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_event.set()
        self.thread.join()
        self.procs.sample()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICKS, idle / _TICKS


class CpuMeter:
    """CPU seconds used by groups of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, groups: Mapping[str, Iterable[int]] | None = None) -> None:
        self.groups = {k: list(v) for k, v in (groups or {}).items()}
        self._before: dict[int, float] = {}
        self._machine = (0.0, 0.0)
        self._wall = 0.0
        self.cores: dict[str, float] = {}

    def start(self) -> None:
        self._before = {p: cpu_seconds(p) for pids in self.groups.values() for p in pids}
        self._machine = machine_busy_seconds()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used per group (CPU seconds ÷ wall seconds) since :meth:`start`; a process
        that exited in between is left out (its last CPU time is not readable)."""
        wall = time.monotonic() - self._wall
        used: dict[str, float] = {}
        for name, pids in self.groups.items():
            after = {p: cpu_seconds(p) for p in pids}
            used[name] = sum(max(0.0, t - self._before[p]) for p, t in after.items() if t)
        busy, idle = machine_busy_seconds()
        used["machine_busy"] = busy - self._machine[0]
        used["machine_idle"] = idle - self._machine[1]
        # What no group explains: other users of the machine, kernel work (network, disk).
        used["other"] = max(0.0, used["machine_busy"] - sum(used[k] for k in self.groups))
        self.cores = {k: round(v / wall, 2) for k, v in used.items()}
        return self.cores


def cpu_groups(procs: Processes, engine: Engine, *, this_process: str) -> dict[str, list[int]]:
    """Process groups whose CPU is reported (this process under ``this_process``): PostgreSQL
    is split into the backends of the bench's database and the rest (WAL writer,
    checkpointer, other databases' backends). Backends opened later count as "other"."""
    with engine.connect() as connection:
        ours = set(
            connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
        )
    postgres = pids_named("postgres")
    return {
        this_process: [os.getpid()],
        "web": [p for m in procs.named("web") for p in m.pids()],
        "workers": [p for m in procs.named("worker") for p in m.pids()],
        "postgresql": [p for p in postgres if p in ours],
        "postgresql_shared": [p for p in postgres if p not in ours],
        "redis": pids_named("redis-server"),
    }
