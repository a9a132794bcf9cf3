"""Robust statistics of window volumes: expected volume and the robust z-score (pure).

Shared by the checks and the data-health chart, so the band a steward sees is the one the
check used.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of normally distributed data."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the same window held in previous weeks (weeks without any record left out)."""

    history: tuple[int, ...]
    median: float
    mad: float

    @property
    def sigma(self) -> float:
        """The spread the z-score divides by: the MAD's sigma, but never below Poisson noise.

        Counts of independent events vary by about √n even when the past weeks happened to be
        identical (MAD 0): without the floor, one record more than every past week would be an
        infinite z-score.
        """
        return max(MAD_TO_SIGMA * self.mad, math.sqrt(max(self.median, 1.0)))

    @property
    def noise(self) -> float:
        """How much a count may fall short by chance: :attr:`sigma`, or 0 when every week had
        the same count (a deterministic feed, such as a daily batch, varies not at all)."""
        return 0.0 if self.mad == 0 else self.sigma

    def z(self, value: float) -> float:
        """The robust z-score of ``value``: positive above the median, negative below."""
        return (value - self.median) / self.sigma

    def band(self, z: float) -> tuple[float, float]:
        """The volumes within ``z`` robust standard deviations of the median."""
        return max(self.median - z * self.sigma, 0.0), self.median + z * self.sigma


def baseline(history: Sequence[int], min_weeks: int) -> Baseline | None:
    """The median and MAD of the weeks that had records, or None with fewer than ``min_weeks``.

    A week without any record in the window is left out: it is an outage or a time before the
    source existed, and neither should lower what is expected.
    """
    weeks = tuple(n for n in history if n > 0)
    if len(weeks) < min_weeks or not weeks:
        return None
    median = float(statistics.median(weeks))
    mad = float(statistics.median(abs(n - median) for n in weeks))
    return Baseline(weeks, median, mad)
