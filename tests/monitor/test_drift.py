"""Drift tests with known truth: samples drawn from the same distribution, and from one shifted
by a known amount; scores checked against SciPy's own functions on the raw samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlgate.artifacts.profile import CATEGORICAL, NUMERIC, ColumnProfile, profile_column
from mlgate.errors import MlgateError
from mlgate.monitor import drift

SEEDS = range(200)


def normal(seed: int, rows: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(10 + shift * 3, 3, rows)


def categories(seed: int, rows: int, mix: tuple[float, ...] = (0.5, 0.3, 0.2)) -> np.ndarray:
    return np.random.default_rng(seed).choice(
        ["grocery", "fuel", "online"][: len(mix)], rows, p=mix
    )


def false_alarms(make: object, reference_rows: int, current_rows: int) -> float:
    alarms = 0
    for seed in SEEDS:
        profile = profile_column("x", make(seed, reference_rows))  # type: ignore[operator]
        alarms += drift.compare(profile, make(seed + 10_000, current_rows)).drifted  # type: ignore[operator]
    return alarms / len(SEEDS)


def test_identical_distributions_raise_false_alarms_at_about_the_tests_level() -> None:
    # p-value tests (reference of at most 1,000 rows) are wrong about 5% of the time by design
    assert 0.01 <= false_alarms(normal, 500, 400) <= 0.10
    assert 0.01 <= false_alarms(categories, 800, 400) <= 0.10
    # the distances' thresholds sit above most sampling noise at these sizes (SciPy's Wasserstein
    # distance on the raw samples alarms on the same 1.5% of these 200 draws)
    assert false_alarms(normal, 5_000, 1_000) <= 0.03
    assert false_alarms(categories, 5_000, 1_000) <= 0.03


@pytest.mark.parametrize(
    ("reference_rows", "test"), [(500, "K-S p-value"), (20_000, "Wasserstein (normed)")]
)
def test_half_a_standard_deviation_shift_is_detected(reference_rows: int, test: str) -> None:
    profile = profile_column("amount", normal(1, reference_rows))
    same = drift.compare(profile, normal(2, 1_000))
    shifted = drift.compare(profile, normal(3, 1_000, shift=0.5))
    assert (same.test, shifted.test) == (test, test)
    assert not same.drifted and shifted.drifted
    assert same.psi_band == "stable" and shifted.psi > 0.1


@pytest.mark.parametrize(
    ("reference_rows", "test"), [(800, "chi-square p-value"), (20_000, "Jensen-Shannon distance")]
)
def test_a_changed_category_mix_is_detected(reference_rows: int, test: str) -> None:
    profile = profile_column("shop", categories(1, reference_rows))
    same = drift.compare(profile, categories(2, 1_000))
    changed = drift.compare(profile, categories(3, 1_000, mix=(0.3, 0.3, 0.4)))
    assert (same.test, changed.test) == (test, test)
    assert not same.drifted and changed.drifted


def test_scores_are_scipys_on_the_raw_samples() -> None:
    small_ref, current = normal(1, 700), normal(2, 3_000, shift=0.1)
    score = drift.compare(profile_column("x", small_ref), current).score
    assert score == pytest.approx(stats.ks_2samp(small_ref, current).pvalue, rel=1e-9)

    big_ref = normal(3, 50_000)
    expected = stats.wasserstein_distance(big_ref, current) / np.std(big_ref)
    score = drift.compare(profile_column("x", big_ref), current).score
    assert score == pytest.approx(expected, abs=0.005)

    ref_shops, cur_shops = categories(4, 900), categories(5, 600, mix=(0.45, 0.35, 0.2))
    ref_counts = [np.sum(ref_shops == k) for k in ("grocery", "fuel", "online")]
    cur_counts = [np.sum(cur_shops == k) for k in ("grocery", "fuel", "online")]
    expected_p = stats.chi2_contingency([ref_counts, cur_counts]).pvalue
    score = drift.compare(profile_column("shop", ref_shops), cur_shops).score
    assert score == pytest.approx(expected_p, rel=1e-9)

    big_shops = categories(6, 30_000)
    big_counts = np.array([np.sum(big_shops == k) for k in ("grocery", "fuel", "online")])
    expected_js = jensenshannon(big_counts / big_counts.sum(), np.array(cur_counts) / 600)
    score = drift.compare(profile_column("shop", big_shops), cur_shops).score
    assert score == pytest.approx(expected_js, rel=1e-9)


def test_a_binary_column_is_tested_by_two_proportions_and_a_new_category_is_drift() -> None:
    rng = np.random.default_rng(0)
    flags = profile_column("card_present", rng.integers(0, 2, 600))
    assert flags.kind == CATEGORICAL and dict(flags.counts).keys() == {"0", "1"}
    result = drift.compare(flags, rng.integers(0, 2, 500).astype(float))  # 1.0 is the category "1"
    assert result.test == "z-test p-value" and not result.drifted
    assert drift.compare(flags, (rng.random(500) < 0.8).astype(int)).drifted
    shops = profile_column("shop", categories(1, 500))
    result = drift.compare(shops, np.array(["grocery"] * 300 + ["casino"] * 3, dtype=object))
    assert result.drifted and "casino" in result.bins


def test_missing_values_are_counted_apart_and_left_out_of_the_test() -> None:
    values = normal(1, 900).astype(object)
    values[::10] = None
    profile = profile_column("x", values)
    assert (profile.rows, profile.missing) == (810, 90)
    current = np.append(normal(2, 500), [np.nan] * 50)
    result = drift.compare(profile, current)
    assert (result.rows, result.missing) == (500, 50) and not result.drifted


def test_a_profile_survives_json_and_a_malformed_one_is_named() -> None:
    for profile in (
        profile_column("x", normal(1, 300)),
        profile_column("x", normal(1, 3_000)),
        profile_column("s", categories(1, 300)),
    ):
        again = ColumnProfile.from_json(profile.name, profile.to_json())
        assert again == profile
    with pytest.raises(MlgateError, match="reference profile's column 'x' is malformed"):
        ColumnProfile.from_json("x", {"kind": "numeric", "rows": 3, "quantiles": [1, 2]})


def test_text_where_the_reference_has_numbers_and_an_empty_column_are_clear_errors() -> None:
    profile = profile_column("amount", normal(1, 300))
    with pytest.raises(
        MlgateError, match="column 'amount' holds text where the reference has numbers"
    ):
        drift.compare(profile, np.array(["12", "a lot"], dtype=object))
    with pytest.raises(MlgateError, match="column 'amount' has no values in the current data"):
        drift.compare(profile, np.array([np.nan, np.nan]))


def test_histograms_share_bins_and_sum_to_one() -> None:
    result = drift.compare(profile_column("x", normal(1, 5_000)), normal(2, 800, shift=1))
    assert (
        len(result.bins)
        == len(result.reference_shares)
        == len(result.current_shares)
        == drift.HISTOGRAM_BINS
    )
    assert sum(result.reference_shares) == pytest.approx(1) and sum(
        result.current_shares
    ) == pytest.approx(1)
    # shifted right: the current data's mass sits further right than the reference's
    weights = np.arange(drift.HISTOGRAM_BINS)
    assert np.dot(weights, result.current_shares) > np.dot(weights, result.reference_shares) + 1


def test_a_registered_drift_test_is_chosen_for_its_columns_and_judged_by_what_it_gives() -> None:
    """The seam for new tests: registered first, it takes the columns it applies to; the
    others keep theirs. A distance is drift at or above the threshold, a p-value below it."""
    cramer = drift.Test(
        "Cramer-von Mises p-value",
        NUMERIC,
        drift.P_VALUE_TEST,
        lambda sample: sample.profile.name == "amount",
        lambda sample: float(
            stats.cramervonmises_2samp(np.asarray(sample.profile.values), sample.current).pvalue
        ),
    )
    drift.register(cramer, first=True)
    try:
        reference, shifted = normal(1, 500), normal(2, 500, shift=0.5)
        amount = drift.compare(profile_column("amount", reference), shifted)
        other = drift.compare(profile_column("x", reference), shifted)
    finally:
        drift.TESTS.remove(cramer)
    assert (amount.test, amount.drifted, amount.threshold) == (cramer.name, True, 0.05)
    assert amount.score < 0.05
    assert other.test == "K-S p-value"
    assert [t.name for t in drift.TESTS] == [
        "K-S p-value",
        "Wasserstein (normed)",
        "z-test p-value",
        "chi-square p-value",
        "Jensen-Shannon distance",
    ]


def test_every_column_kind_has_a_test_that_always_applies() -> None:
    for kind, profile in (
        (NUMERIC, profile_column("x", normal(1, 5_000))),
        (CATEGORICAL, profile_column("c", categories(1, 5_000))),
    ):
        sample = drift.Sample(profile, current=np.sort(normal(2, 10)), keys=("a", "b", "c"))
        assert drift.choose(sample).kind == kind
