"""The difference-in-differences estimate of domain.md §7, with no I/O.

Given each practice's change Δ (mean weekly rate after the post started minus before), for the
practices the post serves (treated) and for comparable practices without such a post (comparison):

    estimate  = mean(Δ treated) − mean(Δ comparison)
    std_error = sqrt(var(Δ treated)/n_t + var(Δ comparison)/n_c)      sample variances (ddof 1)
    df        = Welch–Satterthwaite
    ci_95     = estimate ± t(0.975, df) × std_error

numpy computes the moments and scipy the t quantile. Where the spec is silent:

- **One treated practice** (common: a post often serves a single practice) has no sample variance.
  Its variance is taken to be the comparison group's (it is one draw from the same distribution), so
  ``std_error = sqrt(var_c/1 + var_c/n_c)`` with ``df = n_c − 1``; the answer carries the caveat
  ``single_treated_practice``.
- **Too few comparison practices** (fewer than ``MIN_COMPARISON``) or no treated practice with
  complete data: no estimate, and a machine-readable reason; never a made-up number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

MIN_COMPARISON = 5
CONFIDENCE = 0.95


class NoEstimateReason(StrEnum):
    NO_TREATED_DATA = "no_treated_data"
    TOO_FEW_COMPARISON_PRACTICES = "too_few_comparison_practices"


@dataclass(frozen=True, slots=True)
class Estimate:
    estimate: float
    std_error: float
    df: float
    ci_low: float
    ci_high: float
    n_treated: int
    n_comparison: int
    mean_change_treated: float  # the uncontrolled before/after
    mean_change_comparison: float
    single_treated: bool


@dataclass(frozen=True, slots=True)
class NoEstimate:
    reason: NoEstimateReason
    n_treated: int
    n_comparison: int


def difference_in_differences(
    treated: Sequence[float], comparison: Sequence[float], *, min_comparison: int = MIN_COMPARISON
) -> Estimate | NoEstimate:
    t = np.asarray(treated, dtype=float)
    c = np.asarray(comparison, dtype=float)
    if t.size == 0:
        return NoEstimate(NoEstimateReason.NO_TREATED_DATA, 0, int(c.size))
    if c.size < max(min_comparison, 2):
        return NoEstimate(NoEstimateReason.TOO_FEW_COMPARISON_PRACTICES, int(t.size), int(c.size))
    var_c = float(np.var(c, ddof=1))
    single = t.size == 1
    var_t = var_c if single else float(np.var(t, ddof=1))
    a, b = var_t / t.size, var_c / c.size
    std_error = float(np.sqrt(a + b))
    if single:
        df = float(c.size - 1)
    elif a + b == 0:
        df = float(t.size + c.size - 2)  # no spread at all: any df gives the same (empty) interval
    else:
        df = float((a + b) ** 2 / (a**2 / (t.size - 1) + b**2 / (c.size - 1)))
    mean_t, mean_c = float(np.mean(t)), float(np.mean(c))
    estimate = mean_t - mean_c
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * std_error
    return Estimate(
        estimate=estimate,
        std_error=std_error,
        df=df,
        ci_low=estimate - half,
        ci_high=estimate + half,
        n_treated=int(t.size),
        n_comparison=int(c.size),
        mean_change_treated=mean_t,
        mean_change_comparison=mean_c,
        single_treated=single,
    )
