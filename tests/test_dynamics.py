"""Unit tests of the model's pure dynamics functions, each against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.citizens import meets_measure, next_need, wellbeing
from sim.commissioner import (
    cell_residuals,
    estimate_control,
    estimate_uncertainty,
    pro_rata,
    squared_uncertainty,
)
from sim.payment import reach_probability
from sim.providers import effort_cost, effort_response
from sim.regime import STRATEGIES, Regime, ebrahim_strategy
from sim.scenario import DOMAINS, Scenario
from sim.world import (
    APPROACHES,
    FIT_COMPLEX,
    PROFILE,
    drift_truth,
    keyed_normal,
    published_effects,
    segment_need_pattern,
    shock_sd,
)

BIG = 1e9  # a max_effort that never binds


def q_matrix(k: int, d: float) -> np.ndarray:
    """The Holmstrom-Milgrom cost matrix Q = (1 - d) I + d 11'."""
    return (1.0 - d) * np.eye(k) + d * np.ones((k, k))


# --- providers: effort ---------------------------------------------------------------------------

@pytest.mark.parametrize("a, t, c, d", [
    (200.0, 0.25, 600.0, 0.3),
    (50.0, 0.1, 100.0, 0.0),
    (300.0, 1.0, 1500.0, 0.8),
    (10.0, 0.5, 20.0, 0.5),
])
def test_effort_two_domains_matches_holmstrom_milgrom(a, t, c, d):
    effort = effort_response(np.array([a, 0.0]), t, c, d, BIG)
    expected = [t + a / (c * (1 - d**2)), t - d * a / (c * (1 - d**2))]
    assert np.all(np.array(expected) > 0)  # the formula holds only where nothing is clipped
    np.testing.assert_allclose(effort, expected, rtol=1e-12)


def test_effort_four_domains_solves_the_linear_system():
    rng = np.random.default_rng(0)
    t, c = 2.0, 2000.0
    for d in (0.0, 0.3, 0.6, 0.9):
        benefit = rng.uniform(-100, 300, size=(50, 4))
        expected = t + np.linalg.solve(q_matrix(4, d), benefit.T).T / c
        assert expected.min() > 0 and expected.max() < 20  # unclipped
        np.testing.assert_allclose(effort_response(benefit, t, c, d, 20.0), expected, rtol=1e-10)


def test_effort_is_clipped_to_zero_and_max():
    rng = np.random.default_rng(1)
    t, c, d, top = 0.25, 100.0, 0.4, 1.5
    benefit = rng.uniform(-500, 500, size=(200, 4))
    raw = t + np.linalg.solve(q_matrix(4, d), benefit.T).T / c
    assert (raw < 0).any() and (raw > top).any()  # both bounds are exercised
    effort = effort_response(benefit, t, c, d, top)
    np.testing.assert_allclose(effort, np.clip(raw, 0.0, top), rtol=1e-10)
    assert effort_response(np.full(4, 1e7), t, c, d, top) == pytest.approx(np.full(4, top))
    assert effort_response(np.full(4, -1e7), t, c, d, top) == pytest.approx(np.zeros(4))


def test_effort_keeps_leading_axes():
    benefit = np.random.default_rng(2).uniform(0, 100, size=(3, 5, 4))
    effort = effort_response(benefit, 0.25, 600.0, 0.3, 3.0)
    assert effort.shape == benefit.shape
    np.testing.assert_allclose(effort[1, 2], effort_response(benefit[1, 2], 0.25, 600.0, 0.3, 3.0))


def test_effort_response_maximises_benefit_less_cost():
    rng = np.random.default_rng(3)
    t, c, d = 0.5, 300.0, 0.35
    benefit = rng.uniform(0, 200, size=4)
    best = effort_response(benefit, t, c, d, BIG)

    def net(e):
        return benefit @ (e - t) - effort_cost(e, t, c, d)

    for _ in range(200):
        other = best + rng.normal(0, 0.05, size=4)
        assert net(other) < net(best)


def test_measured_domain_pulls_effort_from_the_others():
    """A bonus on domain 0 raises effort there and, through substitution, lowers it elsewhere."""
    base = np.array([100.0, 100.0, 100.0, 100.0])
    bonus = base + np.array([300.0, 0.0, 0.0, 0.0])
    for d, falls in ((0.0, False), (0.5, True)):
        before = effort_response(base, 0.5, 600.0, d, BIG)
        after = effort_response(bonus, 0.5, 600.0, d, BIG)
        assert after[0] > before[0]
        if falls:
            assert np.all(after[1:] < before[1:])
        else:
            np.testing.assert_allclose(after[1:], before[1:])


def test_effort_cost_is_the_quadratic_form():
    rng = np.random.default_rng(4)
    t, c = 0.25, 600.0
    effort = rng.uniform(0, 3, size=(20, 4))
    for d in (0.0, 0.3, 0.9):
        q = q_matrix(4, d)
        x = effort - t
        expected = 0.5 * c * np.einsum("ik,kl,il->i", x, q, x)
        np.testing.assert_allclose(effort_cost(effort, t, c, d), expected, rtol=1e-12)
    assert effort_cost(np.full((2, 4), t), t, c, 0.3) == pytest.approx(np.zeros(2))


# --- providers: outcome chances ------------------------------------------------

def test_reach_probability_matches_a_simulated_random_walk():
    rng = np.random.default_rng(5)
    sigma, months = 0.05, 6
    for fall, gap in ((0.02, 0.1), (0.0, 0.05), (0.03, 0.3), (0.05, 0.1)):
        walk = rng.normal(fall, sigma, size=(200_000, months)).sum(axis=1)
        simulated = np.mean(walk >= gap)
        got = reach_probability(np.array(gap), np.array(fall), np.array(months), sigma)
        assert got == pytest.approx(simulated, abs=0.005)


def test_reach_probability_shape_and_monotonicity():
    falls = np.linspace(-0.05, 0.1, 30)
    p = reach_probability(np.full(30, 0.1), falls, np.full(30, 12), 0.05)
    assert np.all(np.diff(p) > 0) and np.all((p >= 0) & (p <= 1))
    gaps = np.linspace(0.0, 0.5, 30)
    p = reach_probability(gaps, np.full(30, 0.02), np.full(30, 12), 0.05)
    assert np.all(np.diff(p) < 0)
    assert reach_probability(np.array(0.24), np.array(0.02), np.array(12), 0.05) == pytest.approx(0.5)


# --- citizens ----------------------------------------------------------------------------------------

def test_wellbeing_is_one_minus_valued_need():
    rng = np.random.default_rng(6)
    need = rng.uniform(0, 1, size=(100, 4))
    values = rng.dirichlet(np.ones(4), size=100)
    expected = [1 - sum(need[i, k] * values[i, k] for k in range(4)) for i in range(100)]
    got = wellbeing(need, values)
    np.testing.assert_allclose(got, expected)
    assert np.all((got >= 0) & (got <= 1))
    assert wellbeing(np.zeros((2, 4)), values[:2]) == pytest.approx([1, 1])
    assert wellbeing(np.ones((2, 4)), values[:2]) == pytest.approx([0, 0])


def test_next_need_moves_and_clips():
    need = np.array([[0.5, 0.5, 0.02, 0.97]])
    shock = np.array([[0.1, -0.1, -0.05, 0.05]])
    effect = np.array([[0.2, 0.0, 0.0, 0.0]])
    got = next_need(need, 0.01, shock, effect)
    np.testing.assert_allclose(got, [[0.41, 0.41, 0.0, 1.0]])
    rng = np.random.default_rng(7)
    many = next_need(rng.uniform(0, 1, (500, 4)), 0.006, rng.normal(0, 0.5, (500, 4)),
                     rng.normal(0, 0.5, (500, 4)))
    assert many.min() == 0.0 and many.max() == 1.0  # both bounds bind, none is crossed


def test_meets_measure_threshold_is_inclusive():
    weights = np.array([1.0, 0.0, 0.0, 0.0])
    need = np.array([[0.25, 0.9, 0.9, 0.9], [0.2500001, 0, 0, 0], [0.1, 1, 1, 1]])
    assert meets_measure(need, weights, 0.25).tolist() == [True, False, True]
    composite = np.full(4, 0.25)
    assert meets_measure(need, composite, 0.25).tolist() == [False, True, False]


# --- world ---------------------------------------------------------------------------------------

def test_drift_truth_keeps_the_stationary_variance():
    rng = np.random.default_rng(8)
    sd = np.array([0.5, 2.0])
    rho = 0.9
    dev = sd * rng.standard_normal((20_000, 2))
    for _ in range(100):
        prev = dev
        dev = drift_truth(dev, rho, sd, rng.standard_normal(dev.shape))
    np.testing.assert_allclose(dev.std(axis=0), sd, rtol=0.03)
    lag1 = [np.corrcoef(prev[:, j], dev[:, j])[0, 1] for j in range(2)]
    np.testing.assert_allclose(lag1, rho, atol=0.01)
    # from zero the variance converges to the same level
    dev = np.zeros((20_000, 2))
    for _ in range(150):
        dev = drift_truth(dev, rho, sd, rng.standard_normal(dev.shape))
    np.testing.assert_allclose(dev.std(axis=0), sd, rtol=0.03)
    # rho = 1 is a frozen truth
    frozen = drift_truth(prev, 1.0, sd, rng.standard_normal(prev.shape))
    np.testing.assert_array_equal(frozen, prev)


def test_shock_sd_gives_the_control_share():
    assert shock_sd(0.035, 1.0) == 0.0
    controls = np.linspace(0.05, 1.0, 20)
    sds = np.array([shock_sd(0.035, c) for c in controls])
    assert np.all(np.diff(sds) < 0)
    np.testing.assert_allclose(0.035**2 / (0.035**2 + sds**2), controls)


def test_keyed_normal_is_a_function_of_its_key():
    ids = np.arange(1000)
    a = keyed_normal(42, ids, 7, 4, 0)
    assert a.shape == (1000, 4)
    np.testing.assert_array_equal(a, keyed_normal(42, ids, 7, 4, 0))
    for other in (keyed_normal(42, ids, 8, 4, 0), keyed_normal(43, ids, 7, 4, 0),
                  keyed_normal(42, ids, 7, 4, 1)):
        assert not np.any(np.isclose(a, other))
        assert abs(np.corrcoef(a.ravel(), other.ravel())[0, 1]) < 0.1


def test_keyed_normal_for_an_id_ignores_the_other_ids():
    full = keyed_normal(9, np.arange(500), 3, 4, 2)
    subset = np.array([499, 3, 250, 17])
    np.testing.assert_array_equal(keyed_normal(9, subset, 3, 4, 2), full[subset])
    np.testing.assert_array_equal(keyed_normal(9, np.array([250]), 3, 4, 2)[0], full[250])


def test_keyed_normal_is_standard_normal():
    z = keyed_normal(2024, np.arange(25_000), 5, 4, 0).ravel()  # 100k draws
    assert abs(z.mean()) < 0.02
    assert z.std() == pytest.approx(1.0, abs=0.01)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    cols = keyed_normal(2024, np.arange(25_000), 5, 4, 0)
    assert np.abs(np.corrcoef(cols.T) - np.eye(4)).max() < 0.03  # columns are independent
    months = keyed_normal(2024, np.arange(25_000), 6, 4, 0)
    assert abs(np.corrcoef(cols.ravel(), months.ravel())[0, 1]) < 0.01


def test_segment_need_pattern():
    pattern = segment_need_pattern(6, 4)
    assert pattern.shape == (6, 4)
    assert set(np.unique(pattern)) <= {0.0, 1.0}
    assert np.all(pattern[:, 0] == 1)                      # everyone needs work
    assert pattern[0].tolist() == [1, 0, 0, 0]             # one light need
    assert pattern[-1].tolist() == [1, 1, 1, 1]            # many needs
    assert np.all(np.diff(pattern.sum(axis=1)) >= 0)
    for row in pattern:  # the needed domains are a prefix
        n = int(row.sum())
        assert row[:n].all() and not row[n:].any()
    assert segment_need_pattern(2, 4).tolist() == [[1, 0, 0, 0], [1, 1, 1, 1]]


def test_published_effects():
    effects = published_effects(6, 0.035)
    assert effects.shape == (6, len(APPROACHES), PROFILE.shape[1])
    assert np.all(effects >= 0)
    np.testing.assert_allclose(published_effects(6, 0.07), 2 * effects)
    # work-first is best at employment for the lightest segment; key-worker best overall for
    # the most complex segment
    assert effects[0, :, 0].argmax() == APPROACHES.index("work_first")
    assert effects[-1].sum(axis=1).argmax() == APPROACHES.index("key_worker")
    np.testing.assert_allclose(effects[-1], 0.035 * FIT_COMPLEX[:, None] * PROFILE)


# --- commissioner --------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=10), st.floats(1.0, 1e6))
def test_pro_rata_never_exceeds_the_budget(due, budget):
    due = np.array(due)
    paid = pro_rata(due, budget, allow_overspend=False)
    assert paid.sum() <= budget * (1 + 1e-9)
    assert np.all(paid <= due + 1e-9) and np.all(paid >= 0)
    if due.sum() <= budget:
        np.testing.assert_array_equal(paid, due)
    else:
        assert paid.sum() == pytest.approx(budget)
        np.testing.assert_allclose(paid * due.sum(), due * paid.sum(), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(pro_rata(due, budget, allow_overspend=True), due)


def test_estimate_control_recovers_the_control():
    eff, meas = 0.035, 0.04
    for control in (0.05, 0.25, 0.6, 0.9, 1.0):
        s = shock_sd(eff, control)
        n = 500.0
        assert estimate_control((s**2 + 2 * meas**2) * n, n, meas, eff) == pytest.approx(control)
    assert estimate_control(1.0, 29.0, meas, eff) is None
    # residuals smaller than the measurement noise alone mean full control
    assert estimate_control(0.0, 100.0, meas, eff) == pytest.approx(1.0)


def lag2_products(departure: np.ndarray, precision: float, months: int) -> np.ndarray:
    """The sums ``lagged_products`` builds for noiseless data: ``months`` months of ``precision``
    each, on a fixed ``departure`` (no forgetting), computed directly over the pairs of months."""
    pairs = (months - 1) * (months - 2) / 2  # pairs of months at least two apart
    return np.stack([np.full_like(departure, pairs * precision**2),
                     pairs * (precision * departure) ** 2], axis=-1)


def test_estimate_uncertainty_recovers_the_uncertainty_without_noise():
    rng = np.random.default_rng(10)
    prior_mean = published_effects(6, 0.035)
    prior_sd = np.full_like(prior_mean, 0.6 * 0.035)
    reference = 2.0 * 0.035 * np.sqrt(PROFILE)[None] * np.ones_like(prior_mean)
    precision = np.full_like(prior_mean, 1e9)
    for u in (0.0, 0.3, 0.6, 0.9):
        departure = u * reference * rng.standard_normal(prior_mean.shape)
        expected = (departure**2).sum() / (reference**2).sum()  # these cells' own squared spread
        products = lag2_products(departure, 1e9 / 12, 12)
        assert squared_uncertainty(products, precision, prior_sd, reference) == pytest.approx(expected)
        assert estimate_uncertainty(products, precision, prior_sd, reference) == \
            pytest.approx(np.sqrt(expected))
    wild = lag2_products(5 * reference, 1e9 / 12, 12)
    assert estimate_uncertainty(wild, precision, prior_sd, reference) == 1.0
    assert estimate_uncertainty(wild, np.zeros_like(precision), prior_sd, reference) is None
    # only cells whose data outweighs the prior count, and only with months two apart
    partial = np.zeros_like(precision)
    partial[0, 0, 0] = 1e9
    mixed = lag2_products(np.where(partial > 0, 0.0, 5 * reference), 1e9 / 12, 12)
    assert estimate_uncertainty(mixed, partial, prior_sd, reference) == 0.0
    assert estimate_uncertainty(lag2_products(5 * reference, 1e9 / 2, 2), precision, prior_sd,
                                reference) is None


def test_estimate_uncertainty_with_a_zero_reference_is_a_number():
    prior_mean = published_effects(6, 0.035)
    prior_sd = np.full_like(prior_mean, 0.6 * 0.035)
    products = lag2_products(1e-4 * np.random.default_rng(0).standard_normal(prior_mean.shape), 1e8, 12)
    with np.errstate(all="ignore"):
        got = estimate_uncertainty(products, np.full_like(prior_mean, 1e9), prior_sd,
                                   np.zeros_like(prior_mean))
    assert got is None or 0.0 <= got <= 1.0


def test_cell_residuals_leave_the_noise_alone():
    """Each cell's own fit absorbs its effect, whatever it is: noiseless data leave nothing, and
    the degrees of freedom are the observations less the cells fitted (a cell with no effort
    fits nothing, and its observations are residuals as they stand)."""
    cell = np.array([0, 0, 0, 2, 2, 3])
    effort = np.array([0.5, 1.0, 2.0, 0.3, 0.6, 0.0])
    z = np.array([0.1, 0.2, 0.4, -0.3, -0.6, 0.05])  # cells 0 and 2: exactly b * effort
    ss, df = cell_residuals(cell, effort, z, 4)
    assert ss == pytest.approx(0.05**2) and df == 6 - 2
    noisy = z + np.array([0.01, -0.01, 0.0, 0.0, 0.0, 0.0])
    fit = (effort[:3] @ noisy[:3]) / (effort[:3] @ effort[:3])
    assert cell_residuals(cell, effort, noisy, 4)[0] == \
        pytest.approx(((noisy[:3] - fit * effort[:3]) ** 2).sum() + 0.05**2)


# --- regime --------------------------------------------------------------------------------------

# Ebrahim (2019): niche = low uncertainty, narrow control; integrated = low uncertainty, broad
# control; emergent = high uncertainty, narrow control; ecosystem = high uncertainty, broad control.
@pytest.mark.parametrize("u, c, strategy", [
    (0.1, 0.2, "niche"), (0.1, 0.9, "integrated"), (0.9, 0.2, "emergent"), (0.9, 0.9, "ecosystem"),
    (0.0, 0.0, "niche"), (0.49, 0.5, "integrated"), (0.5, 0.49, "emergent"), (0.5, 0.5, "ecosystem"),
    (1.0, 1.0, "ecosystem"),
])
def test_ebrahim_strategy_quadrants(u, c, strategy):
    assert ebrahim_strategy(u, c) == strategy
    assert strategy in STRATEGIES


def make_regime(**fields) -> Regime:
    return Regime(Scenario().with_overrides(fields).regime, np.full(len(DOMAINS), 0.25), 6)


def test_differential_prices_rise_to_the_ratio():
    flat = make_regime(model="outcomes", outcome_price=1000.0).payment.prices()
    np.testing.assert_array_equal(flat, np.full(6, 1000.0))
    prices = make_regime(model="outcomes", outcome_price=1000.0, differential_prices=True,
                         price_ratio_hardest=4.0).payment.prices()
    assert prices[0] == pytest.approx(1000.0)
    assert prices[-1] == pytest.approx(4000.0)
    assert np.all(np.diff(prices) > 0)


def test_measure_weights_coverage_and_review():
    threshold = make_regime(measure="threshold", measured_domain="housing")
    assert threshold.measure_weights.tolist() == [0, 1, 0, 0]
    values = np.array([0.1, 0.2, 0.3, 0.4])
    composite = Regime(Scenario().with_overrides({"measure": "composite"}).regime, values, 6)
    np.testing.assert_allclose(composite.measure_weights, values)
    assert threshold.covered.tolist() == [False] * 4  # metric_counts: no case-level data
    assert make_regime(data_coverage="metric_domain", measured_domain="health").covered.tolist() == \
        [False, False, True, False]
    assert make_regime(data_coverage="all_domains").covered.all()
    assert threshold.settings.review_rate == 0.5
    threshold.review(values)
    np.testing.assert_allclose(threshold.measure_weights, [0.05, 0.6, 0.15, 0.2])
    assert threshold.measure_weights.sum() == pytest.approx(1.0)


def test_payment_at_risk():
    assert make_regime(model="outcomes", shared_risk=0.25).payment.at_risk == pytest.approx(0.75)
    assert make_regime(model="distance_travelled").payment.at_risk == 1.0
    assert make_regime(model="fee_for_service").payment.at_risk == 0.0
    assert make_regime(model="block_grant").payment.at_risk == 0.0
