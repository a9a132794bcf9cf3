"""The periodic jobs' schedule and the simulator's fault schedule, as pure data."""

from __future__ import annotations

import inspect

import pytest

from ingest.faults import DEFAULT_SCHEDULE, FaultKind, FaultSchedule, FaultWindow
from ingest.schedule import SCHEDULE, cron_job, resolve

DOCUMENTED_EVERY_S = {
    "sweep": 5,
    "pull-due-sources": 60,
    "evaluate-drift": 60,
    "quality-checks": 60,
    "escalate-incidents": 60,
    "requeue-notifications": 15,
    "evaluate-alerts": 30,
    "prune-quality-results": 3600,
    "refresh-rollups": 60,
    "maintain": 3600,
}


def test_every_periodic_job_is_documented_with_its_interval() -> None:
    assert {p.name: p.every_s for p in SCHEDULE} == DOCUMENTED_EVERY_S


@pytest.mark.parametrize("periodic", SCHEDULE, ids=lambda p: p.name)
def test_every_periodic_job_is_an_importable_function_taking_no_arguments(periodic) -> None:
    function = resolve(periodic.func)
    assert inspect.isfunction(function)
    assert function.__module__ + "." + function.__name__ == periodic.func
    required = [p for p in inspect.signature(function).parameters.values() if p.default is p.empty]
    assert required == []


@pytest.mark.parametrize("periodic", SCHEDULE, ids=lambda p: p.name)
def test_a_periodic_job_never_waits_in_the_queue_longer_than_its_interval(periodic) -> None:
    job = cron_job(periodic, "ingest")
    assert job.interval == periodic.every_s
    assert job.job_options["ttl"] == periodic.every_s
    assert job.job_options["job_timeout"] == periodic.timeout_s


def test_a_name_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(TypeError, match="not callable"):
        resolve("ingest.schedule.SCHEDULE")


# --- the simulator's faults --------------------------------------------------------------------


def test_the_default_fault_schedule_injects_every_kind_of_fault_once_per_cycle() -> None:
    kinds = [w.kind for w in DEFAULT_SCHEDULE.windows]
    assert sorted(kinds) == sorted(FaultKind)


def test_no_fault_is_active_in_the_first_minute_of_the_default_schedule() -> None:
    assert all(DEFAULT_SCHEDULE.active(s) == () for s in range(60))


def test_a_fault_is_active_from_its_start_until_its_end_and_again_next_cycle() -> None:
    spike = FaultWindow(FaultKind.SPIKE, "orders", 10, 5, 3)
    schedule = FaultSchedule((spike,), period_s=100)
    assert schedule.active(9.99) == ()
    assert schedule.active(10) == (spike,)
    assert schedule.active(14.9) == (spike,)
    assert schedule.active(15) == ()
    assert schedule.active(112) == (spike,)
    assert schedule.active_for("orders", 12) == {FaultKind.SPIKE: spike}
    assert schedule.active_for("web_sessions", 12) == {}


def test_changes_name_the_faults_that_start_and_end_between_two_moments() -> None:
    silence = FaultWindow(FaultKind.SILENCE, "orders", 0, 10)
    drift = FaultWindow(FaultKind.DRIFT, "web_sessions", 5, 20, 0.5)
    schedule = FaultSchedule((silence, drift), period_s=30)
    assert schedule.changes(4, 6) == ((drift,), ())
    assert schedule.changes(9, 11) == ((), (silence,))
    assert schedule.changes(29, 31) == ((silence,), ())
    assert schedule.changes(11, 12) == ((), ())


def test_a_window_outside_the_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the cycle"):
        FaultSchedule((FaultWindow(FaultKind.LATE, "orders", 50, 20, 0.1),), period_s=60)


def test_the_printed_schedule_lists_each_fault_with_its_source_and_timing() -> None:
    lines = DEFAULT_SCHEDULE.describe()
    assert lines[0] == "fault schedule, repeating every 1200 s:"
    silence = next(line for line in lines if line.strip().startswith("silence"))
    assert "orders" in silence
    assert "from 840 s for 360 s" in silence
