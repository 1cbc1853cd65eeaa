"""Ratios and rates, the one way every view computes them: a ratio where the denominator is
above 0 (no data, NaN, otherwise: never 0%), and for a rate its 95% Wilson score interval,
which stays inside [0, 1] and behaves at small n and at 0% or 100%, where the textbook
interval lies."""
from __future__ import annotations

import numpy as np

Z_95 = 1.959963984540054


def wilson_interval(successes, trials, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) for arrays of successes out of trials; NaN where there are no trials."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        scale = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / scale
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / scale
        # At 0% and 100% the bound is exactly 0 or 1; floating point would miss it by 1e-16.
        low = np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1))
        high = np.where(k >= n, 1.0, np.clip(centre + half, 0, 1))
    empty = ~(n > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator where the denominator is above 0, NaN elsewhere."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def rate(successes, trials) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, ci_low, ci_high) of a rate: `ratio` and its Wilson interval."""
    low, high = wilson_interval(successes, trials)
    return ratio(successes, trials), low, high
