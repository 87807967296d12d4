"""Lever 6: the commissioner's estimates of the context at the precision it really has, and the
hysteresis of its strategy (ODD 7.19).

The estimators are tested on synthetic data with known uncertainty and control laid on the
design that a context-led run really gives its commissioner: which cells it observes each month
and with what effort, recorded from a 120-month run of the ``context_led`` preset. Their
tolerances are ``Z`` standard errors of the mean over the replicates, the standard errors worked
out from that design (the cells informed, their precision month by month, the degrees of
freedom), not set by hand, and ``Z`` the normal quantile that keeps the chance of any false alarm
among all the checks at 1% (Bonferroni): the design changes whenever the model does, so each
change of the model is a new draw.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim import CommissioningModel, beliefs, load
from sim.commissioner import Commissioner, squared_uncertainty
from sim.regime import SIDES, ebrahim_strategy, past_boundary
from sim.world import PROFILE, shock_sd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))

from context_estimates import BURN_IN, assessments, switches  # noqa: E402

MONTHS = (12, 36, 120)   # when the estimates are checked
REPLICATES = 30
CONTEXTS = ("complex_uncontrollable", "stable_controllable")
TRUTHS = ((0.1, 0.9), (0.5, 0.5), (0.9, 0.1))  # (uncertainty, control)
# the uncertainty moment at each context, truth and month, and the panel's two estimates; the noise
# variance is unbiased by algebra (test_dynamics.test_cell_residuals_leave_the_noise_alone)
CHECKS = len(CONTEXTS) * len(TRUTHS) * len(MONTHS) + 2
Z = float(stats.norm.isf(0.01 / (2 * CHECKS)))  # two-sided, 1% for all the checks together: 3.48


# --- the design a context-led commissioner really has ---------------------------------------------

def recorded_design(context: str) -> tuple[CommissioningModel, list[tuple[np.ndarray, np.ndarray]]]:
    """A 120-month context-led run, and the cells (flat) and efforts of the observations its
    commissioner received each month."""
    model = CommissioningModel(scenario=load("context_led", context), rng=1)
    months = []
    received = model.commissioner.receive_reports

    def record(reports, segment, approach, domain, z, effort):
        months.append((np.ravel_multi_index((segment, approach, domain), model.shape), effort.copy()))
        received(reports, segment, approach, domain, z, effort)

    model.commissioner.receive_reports = record
    model.run_for(max(MONTHS))
    return model, months


@pytest.fixture(scope="module", params=CONTEXTS)
def design(request):
    return recorded_design(request.param)


def noise_sd(model: CommissioningModel, control: float) -> float:
    """The sd of one observed change at ``control``: shocks and two measurement errors (7.4)."""
    w = model.scenario_config.world
    return float(np.sqrt(shock_sd(w.effect_scale, control) ** 2 + 2 * w.measurement_sd**2))


def reference_sd(model: CommissioningModel) -> np.ndarray:
    """The departure sd at uncertainty 1 (``world.World.departure_sd`` / uncertainty)."""
    w = model.scenario_config.world
    return w.departure_sd * w.effect_scale * np.sqrt(PROFILE)[None] * np.ones(model.shape)


def feed(com: Commissioner, model: CommissioningModel, cell: np.ndarray, effort: np.ndarray,
         z: np.ndarray, sigma: float) -> None:
    """One month of observations, as the model feeds them: forgetting first, then the reports."""
    com.forget(model.scenario_config.providers.forgetting)
    segment, approach, domain = np.unravel_index(cell, model.shape)
    com.receive_reports(beliefs.accumulate(model.shape, cell, effort, z, sigma), segment, approach,
                        domain, z, effort)


def estimates(com: Commissioner, model: CommissioningModel) -> tuple[float, float]:
    """Its squared-uncertainty moment and its estimate of the noise variance."""
    moment = squared_uncertainty(com.products, com.reports[..., beliefs.PRECISION],
                                 model.world.prior_sd, reference_sd(model))
    return moment, com.residual_ss / com.residual_n


def replay(model, months, effect: np.ndarray, sigma: float, rng) -> dict[int, tuple]:
    """A fresh commissioner fed the design's observations of ``effect`` with independent noise of
    sd ``sigma``; its ``estimates`` at each of ``MONTHS``."""
    com = Commissioner(model, model.shape)
    out = {}
    for month, (cell, effort) in enumerate(months, start=1):
        feed(com, model, cell, effort, effect.flat[cell] * effort + sigma * rng.standard_normal(len(cell)),
             sigma)
        if month in MONTHS:
            out[month] = estimates(com, model)
    return out


def monthly(months, shape, values) -> np.ndarray:
    """Sum ``values(cell, effort)`` by cell, month by month: (months, cells)."""
    size = int(np.prod(shape))
    return np.array([np.bincount(cell, weights=values(cell, effort), minlength=size)
                     for cell, effort in months])


def uncertainty_variance(model, months, sigma: float, u: float, month: int) -> float:
    """The variance of ``squared_uncertainty`` at ``month`` on the design, with independent noise.

    Month t's data on a cell, weighted by forgetting w_t, give X_t = w_t (information - prior
    precision) with mean departure * W_t (W_t = w_t precision_t) and variance V_t = w_t^2
    precision_t. The cell's estimate is the sum of X_s X_t over pairs of months at least two
    apart, over D = the sum of W_s W_t; given the departure its variance is
    (sum of V_s V_t + departure^2 sum_t V_t (sum of W_s, |s - t| >= 2)^2) / D^2, and the departure
    (sd u * reference) adds 2 (u reference)^4. Cells are independent; the moment sums them over
    the informed cells and divides by the sum of reference^2.
    """
    lam = model.scenario_config.providers.forgetting
    precision = monthly(months[:month], model.shape, lambda cell, e: e * e) / sigma**2
    w = lam ** np.arange(month - 1, -1, -1)[:, None]
    W, V = w * precision, w**2 * precision

    def pairs(a, b):  # sum over pairs s < t - 1 of a_s b_t
        before = np.vstack([np.zeros((2, a.shape[1])), np.cumsum(a, axis=0)[:-2]])
        return (before * b).sum(axis=0)

    total = W.sum(axis=0)
    near = W + np.vstack([W[1:], np.zeros((1, W.shape[1]))]) + np.vstack([np.zeros((1, W.shape[1])), W[:-1]])
    apart = total - near                               # sum of W_s over |s - t| >= 2, for each t
    D = pairs(W, W)
    R2 = reference_sd(model).ravel() ** 2
    informed = (precision.T @ w[:, 0] > 1 / model.world.prior_sd.ravel() ** 2) & (D > 0)
    var = (pairs(V, V) + u**2 * R2 * (V * apart**2).sum(axis=0)) / np.where(D > 0, D, 1) ** 2 \
        + 2 * (u**2 * R2) ** 2
    return float(var[informed].sum() / R2[informed].sum() ** 2)


@pytest.mark.parametrize("u, control", TRUTHS)
def test_the_estimates_are_unbiased_at_the_precision_a_commissioner_has(design, u, control):
    model, months = design
    sigma = noise_sd(model, control)
    rng = np.random.default_rng(int(u * 10))
    runs = []
    for _ in range(REPLICATES):
        effect = model.world.prior_mean + u * reference_sd(model) * rng.standard_normal(model.shape)
        runs.append(replay(model, months, effect, sigma, rng))
    for month in MONTHS:
        moments = np.array([run[month][0] for run in runs])
        se_u2 = np.sqrt(uncertainty_variance(model, months, sigma, u, month) / REPLICATES)
        assert abs(moments.mean() - u**2) < Z * se_u2, (month, moments.mean(), u**2, se_u2)


def test_the_uncertainty_estimate_is_unbiased_when_assessment_errors_repeat():
    """The model's own noise: a case's assessment error at the end of a month enters that month's
    change and the next one's (7.4), so consecutive months share noise; months two apart do not.
    A panel of cases that stay in their cells: the estimate stays unbiased (and so does the noise
    variance, from within a month). Tolerance: ``Z`` standard errors of the mean, from the
    replicates' spread (the shared errors make the analytic variance above inexact).
    """
    model = CommissioningModel(scenario=load("context_led", "stable_controllable"), rng=0)
    w = model.scenario_config.world
    shock, measurement = shock_sd(w.effect_scale, 0.9), w.measurement_sd
    sigma = float(np.sqrt(shock**2 + 2 * measurement**2))
    rng = np.random.default_rng(3)
    cell = np.repeat(rng.choice(int(np.prod(model.shape)), 60, replace=False), 20)  # 20 cases a cell
    effort = rng.uniform(0.2, 1.0, len(cell))
    u, moments, noise = 0.3, [], []
    for _ in range(REPLICATES):
        effect = model.world.prior_mean + u * reference_sd(model) * rng.standard_normal(model.shape)
        com = Commissioner(model, model.shape)
        error = rng.standard_normal(len(cell))  # each case's last assessment error
        for _month in range(36):
            new_error = rng.standard_normal(len(cell))
            feed(com, model, cell, effort, effect.flat[cell] * effort
                 + shock * rng.standard_normal(len(cell)) + measurement * (error - new_error), sigma)
            error = new_error
        moment, noise_variance = estimates(com, model)
        moments.append(moment)
        noise.append(noise_variance)
    for values, truth in ((np.array(moments), u**2), (np.array(noise), sigma**2)):
        assert abs(values.mean() - truth) < Z * values.std(ddof=1) / np.sqrt(REPLICATES)


# --- hysteresis ------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimate, was_past, margin, past", [
    (0.5, None, 0.1, True), (0.49, None, 0.1, False),            # no side yet: the boundary itself
    (0.55, False, 0.1, False), (0.6, False, 0.1, True),          # from below: 0.5 + margin to cross
    (0.45, True, 0.1, True), (0.4, True, 0.1, True), (0.39, True, 0.1, False),  # from above
    (0.5, False, 0.0, True), (0.49, True, 0.0, False),           # no margin: the plain boundary
])
def test_past_boundary_keeps_its_side_within_the_margin(estimate, was_past, margin, past):
    assert past_boundary(estimate, was_past, margin) is past


def test_ebrahim_strategy_switches_only_past_the_margin():
    assert ebrahim_strategy(0.45, 0.2, "emergent", 0.1) == "emergent"
    assert ebrahim_strategy(0.35, 0.2, "emergent", 0.1) == "niche"
    assert ebrahim_strategy(0.55, 0.55, "niche", 0.1) == "niche"
    assert ebrahim_strategy(0.65, 0.65, "niche", 0.1) == "ecosystem"
    assert ebrahim_strategy(0.45, 0.55, "as set", 0.1) == "integrated"  # first adoption: no margin
    for name, (high, broad) in SIDES.items():  # a missing estimate (0.5) keeps the strategy
        assert ebrahim_strategy(0.5, 0.5, name, 0.1) == name
        assert ebrahim_strategy(0.9 if high else 0.1, 0.9 if broad else 0.1) == name


# --- in runs -----------------------------------------------------------------------------------

RUN_SEEDS = range(8)
MOST = 0.75  # "most of the time": three estimates in four


@pytest.fixture(scope="module")
def traces():
    return {context: [assessments(context, seed, {}) for seed in RUN_SEEDS]
            for context in ("complex_uncontrollable", "stable_controllable")}


def test_a_context_led_commissioner_puts_uncertainty_on_the_right_side(traces):
    """After the burn-in (the first assessment, on a year's data, is left out), most estimates of
    uncertainty in each context are on its side of the 0.5 boundary: above it at 0.9, below at 0.1.
    """
    for context, high in (("complex_uncontrollable", True), ("stable_controllable", False)):
        estimates = np.array([u for rows in traces[context] for month, u, _, _ in rows
                              if month >= BURN_IN], dtype=float)
        assert np.mean((estimates >= 0.5) == high) >= MOST, (context, estimates)


def test_a_context_led_commissioner_does_not_flip_strategy(traces):
    """Over 120 months in complex_uncontrollable no run switches back at the next assessment to the
    strategy it has just left. (A run may still switch twice: the margin does not stop a crossing
    that lasts.)"""
    for rows in traces["complex_uncontrollable"]:
        assert switches([strategy for *_, strategy in rows])[1] == 0, rows
