"""The difference-in-differences estimator against a hand-computed example and against scipy's Welch
t-test on the same Δ values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evaluation.analyses.did import Estimate, NoEstimate, NoEstimateReason, difference_in_differences


def test_a_hand_computed_example() -> None:
    # Treated Δ: −4, −6, −5 (mean −5, variance 1); comparison Δ: 1, −1, 0, 2, −2 (mean 0, variance 2.5).
    result = difference_in_differences([-4, -6, -5], [1, -1, 0, 2, -2])
    assert isinstance(result, Estimate)
    assert result.estimate == pytest.approx(-5.0)
    assert result.mean_change_treated == pytest.approx(-5.0) and result.mean_change_comparison == pytest.approx(0.0)
    # std_error = sqrt(1/3 + 2.5/5) = sqrt(0.8333…) = 0.912871
    assert result.std_error == pytest.approx(math.sqrt(1 / 3 + 0.5))
    # Welch–Satterthwaite: (1/3 + 1/2)² / ((1/3)²/2 + (1/2)²/4) = 0.694444 / 0.118056 = 5.882353
    assert result.df == pytest.approx((1 / 3 + 0.5) ** 2 / ((1 / 3) ** 2 / 2 + 0.25 / 4))
    assert result.df == pytest.approx(5.882353, rel=1e-6)
    # t(0.975, 5.882353) ≈ 2.4588: tables give 2.4469 at 6 df and 2.5706 at 5; interpolating in 1/df,
    # (1/5.882353 − 1/6) / (1/5 − 1/6) = 0.1, so 2.4469 + 0.1 × 0.1237 = 2.4593 (the exact value is 2.4588).
    half = result.ci_high - result.estimate
    assert half / result.std_error == pytest.approx(2.4588, abs=5e-4)
    assert (result.ci_low, result.ci_high) == pytest.approx((-5.0 - half, -5.0 + half))
    assert (result.n_treated, result.n_comparison, result.single_treated) == (3, 5, False)


@pytest.mark.parametrize("seed", range(6))
def test_it_agrees_with_scipys_welch_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    treated = rng.normal(-3, 2, size=rng.integers(2, 6))
    comparison = rng.normal(0, 1.5, size=rng.integers(5, 60))
    result = difference_in_differences(list(treated), list(comparison))
    assert isinstance(result, Estimate)
    welch = stats.ttest_ind(treated, comparison, equal_var=False)
    assert result.estimate / result.std_error == pytest.approx(welch.statistic)
    assert result.df == pytest.approx(welch.df)
    interval = welch.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high))


def test_one_treated_practice_borrows_the_comparison_variance() -> None:
    comparison = [1.0, -1.0, 0.0, 2.0, -2.0, 0.5]
    result = difference_in_differences([-4.0], comparison)
    assert isinstance(result, Estimate) and result.single_treated
    var_c = float(np.var(comparison, ddof=1))
    assert result.std_error == pytest.approx(math.sqrt(var_c + var_c / 6))
    assert result.df == 5
    assert result.ci_high - result.estimate == pytest.approx(stats.t.ppf(0.975, 5) * result.std_error)


def test_no_estimate_without_enough_data() -> None:
    assert difference_in_differences([], [1, 2, 3, 4, 5]) == NoEstimate(NoEstimateReason.NO_TREATED_DATA, 0, 5)
    assert difference_in_differences([1, 2], [1, 2, 3, 4]) == NoEstimate(
        NoEstimateReason.TOO_FEW_COMPARISON_PRACTICES, 2, 4
    )
    assert isinstance(difference_in_differences([1, 2], [1, 2, 3, 4], min_comparison=4), Estimate)


def test_no_spread_gives_an_empty_interval() -> None:
    result = difference_in_differences([-2, -2], [0, 0, 0, 0, 0])
    assert isinstance(result, Estimate)
    assert (result.estimate, result.std_error, result.ci_low, result.ci_high) == (-2, 0, -2, -2)
