"""Conjugate posteriors, pooling and the knowledge measures, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from sim import beliefs
from sim.world import published_effects, segment_need_pattern

SIGMA = 0.06


def observations(rng: np.random.Generator, beta: np.ndarray, n: int):
    """``n`` observations z = beta[cell] * effort + noise in random cells of ``beta``."""
    cell = rng.integers(beta.size, size=n)
    effort = rng.uniform(0.0, 3.0, size=n)
    z = beta.ravel()[cell] * effort + SIGMA * rng.standard_normal(n)
    return cell, effort, z


def test_accumulate_matches_a_loop():
    rng = np.random.default_rng(0)
    shape = (2, 3, 4)
    cell, effort, z = observations(rng, np.zeros(shape), 300)
    got = beliefs.accumulate(shape, cell, effort, z, SIGMA)
    assert got.shape == (*shape, 2)
    expected = np.zeros((int(np.prod(shape)), 2))
    for c, e, obs in zip(cell, effort, z, strict=True):
        expected[c, beliefs.PRECISION] += e * e / SIGMA**2
        expected[c, beliefs.INFORMATION] += e * obs / SIGMA**2
    np.testing.assert_allclose(got.reshape(-1, 2), expected)
    assert beliefs.empty(shape).shape == (*shape, 2) and not beliefs.empty(shape).any()


def test_pooling_is_adding_evidence():
    rng = np.random.default_rng(1)
    shape = (3, 5)
    cell, effort, z = observations(rng, rng.normal(size=shape), 400)
    whole = beliefs.accumulate(shape, cell, effort, z, SIGMA)
    halves = (beliefs.accumulate(shape, cell[:150], effort[:150], z[:150], SIGMA)
              + beliefs.accumulate(shape, cell[150:], effort[150:], z[150:], SIGMA))
    np.testing.assert_allclose(whole, halves)


def test_posterior_matches_sequential_bayesian_updating():
    """The batch posterior equals updating a normal prior one observation at a time."""
    rng = np.random.default_rng(2)
    shape = (2, 2)
    prior_mean = rng.normal(0.03, 0.01, size=shape)
    prior_sd = np.full(shape, 0.02)
    for weight in (0.25, 1.0, 4.0):
        cell, effort, z = observations(rng, rng.normal(0.03, 0.02, size=shape), 60)
        evidence = beliefs.accumulate(shape, cell, effort, z, SIGMA)
        mean, sd = beliefs.posterior(prior_mean, prior_sd, weight, evidence)
        m = prior_mean.ravel().copy()
        v = (prior_sd.ravel() ** 2) / weight
        for c, e, obs in zip(cell, effort, z, strict=True):
            # regress obs on e: obs ~ N(beta e, SIGMA^2), beta ~ N(m, v)
            gain = v[c] * e / (e * e * v[c] + SIGMA**2)
            m[c] += gain * (obs - e * m[c])
            v[c] *= 1 - gain * e
        np.testing.assert_allclose(mean.ravel(), m, rtol=1e-9)
        np.testing.assert_allclose(sd.ravel(), np.sqrt(v), rtol=1e-9)


def test_posterior_without_evidence_is_the_prior():
    prior_mean = np.array([0.1, 0.2])
    prior_sd = np.array([0.05, 0.01])
    mean, sd = beliefs.posterior(prior_mean, prior_sd, 1.0, beliefs.empty((2,)))
    np.testing.assert_allclose(mean, prior_mean)
    np.testing.assert_allclose(sd, prior_sd)
    _, sd = beliefs.posterior(prior_mean, prior_sd, 4.0, beliefs.empty((2,)))
    np.testing.assert_allclose(sd, prior_sd / 2)  # the weight multiplies the prior's precision


def test_posterior_converges_to_the_true_effect():
    rng = np.random.default_rng(3)
    beta = np.array([0.05, -0.02, 0.0, 0.1])
    prior_mean = np.full(4, 0.5)  # a badly wrong published prior
    prior_sd = np.full(4, 0.1)
    errors, sds = [], []
    evidence = beliefs.empty((4,))
    for _ in range(4):
        cell, effort, z = observations(rng, beta, 5000)
        evidence = evidence + beliefs.accumulate((4,), cell, effort, z, SIGMA)
        mean, sd = beliefs.posterior(prior_mean, prior_sd, 1.0, evidence)
        errors.append(np.abs(mean - beta).max())
        sds.append(sd.max())
    assert errors[-1] < 0.002
    assert np.all(np.abs(mean - beta) < 4 * sd)  # the truth is inside the posterior's band
    assert np.all(np.diff(sds) < 0)


def test_prior_weight_moves_between_prior_and_data():
    rng = np.random.default_rng(4)
    beta = np.array([0.08])
    cell, effort, z = observations(rng, beta, 20)
    evidence = beliefs.accumulate((1,), cell, effort, z, SIGMA)
    mle = evidence[..., 1] / evidence[..., 0]
    prior_mean, prior_sd = np.array([0.0]), np.array([0.01])
    light, _ = beliefs.posterior(prior_mean, prior_sd, 0.01, evidence)
    heavy, _ = beliefs.posterior(prior_mean, prior_sd, 100.0, evidence)
    assert abs(light[0] - mle[0]) < 0.001          # a weightless prior leaves the data's estimate
    assert abs(heavy[0] - prior_mean[0]) < 0.01     # a heavy prior barely moves
    assert abs(light[0] - mle[0]) < abs(heavy[0] - mle[0])


def test_value_estimate():
    professional = np.array([[0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])
    no_voice = beliefs.value_estimate(professional, np.zeros((2, 4)), np.zeros(2), 20.0)
    np.testing.assert_allclose(no_voice, professional)
    heard = np.array([0.1, 0.2, 0.3, 0.4])
    many = beliefs.value_estimate(professional, np.tile(heard * 1e6, (2, 1)), np.full(2, 1e6), 20.0)
    np.testing.assert_allclose(many, np.tile(heard, (2, 1)), atol=1e-4)
    some = beliefs.value_estimate(professional, np.tile(heard * 20, (2, 1)), np.full(2, 20.0), 20.0)
    np.testing.assert_allclose(some, (professional + heard) / 2)
    np.testing.assert_allclose(some.sum(axis=1), 1.0)


# --- knowledge ------------------------------------------------------------------------------------

def knowledge_setup(seed: int = 5):
    rng = np.random.default_rng(seed)
    s, a, k = 6, 5, 4
    truth = published_effects(s, 0.035) + 0.02 * rng.standard_normal((s, a, k))
    pattern = segment_need_pattern(s, k)
    values = rng.dirichlet(np.ones(k), size=s)
    weight = rng.dirichlet(np.ones(s))
    return truth, values, pattern, weight


def test_segment_gain_matches_a_loop():
    truth, values, pattern, _ = knowledge_setup()
    gain = beliefs.segment_gain(truth, values, pattern)
    s, a, k = truth.shape
    for i in range(s):
        for j in range(a):
            expected = sum(truth[i, j, m] * values[i, m] * pattern[i, m] for m in range(k))
            assert gain[i, j] == pytest.approx(expected)


def test_decision_quality_of_the_oracle_is_one():
    truth, values, pattern, weight = knowledge_setup()
    assert beliefs.decision_quality(truth, values, truth, values, pattern, weight) == pytest.approx(1.0)


def test_decision_quality_of_the_worst_choice_is_negative():
    truth, values, pattern, weight = knowledge_setup()
    gain = beliefs.segment_gain(truth, values, pattern)
    worst = gain.argmin(axis=1)
    believed = np.zeros_like(truth)
    believed[np.arange(len(worst)), worst] = 1.0  # believes the worst approach is best
    q = beliefs.decision_quality(believed, values, truth, values, pattern, weight)
    assert q < 0
    random = gain.mean(axis=1)
    expected = ((gain.min(axis=1) - random) @ weight) / ((gain.max(axis=1) - random) @ weight)
    assert q == pytest.approx(expected)


def test_decision_quality_in_between_and_batched():
    truth, values, pattern, weight = knowledge_setup()
    gain = beliefs.segment_gain(truth, values, pattern)
    best, worst = gain.argmax(axis=1), gain.argmin(axis=1)
    half = np.zeros_like(truth)
    rows = np.arange(len(best))
    # right for the first three segments, wrong for the rest
    choice = np.where(rows < 3, best, worst)
    half[rows, choice] = 1.0
    random = gain.mean(axis=1)
    achieved = gain[rows, choice]
    expected = ((achieved - random) @ weight) / ((gain.max(axis=1) - random) @ weight)
    batch = np.stack([truth, half])
    q = beliefs.decision_quality(batch, np.stack([values, values]), truth, values, pattern, weight)
    assert q.shape == (2,)
    assert q[0] == pytest.approx(1.0)
    assert q[1] == pytest.approx(expected)
    assert -1 < q[1] < 1


def test_decision_quality_judges_by_values_too():
    """Beliefs about effects can be right and still choose badly if the values believed are wrong."""
    truth, values, pattern, weight = knowledge_setup(6)
    scores = []
    for _ in range(20):
        wrong_values = np.random.default_rng(len(scores)).dirichlet(np.full(4, 0.2), size=6)
        scores.append(beliefs.decision_quality(truth, wrong_values, truth, values, pattern, weight))
    assert max(scores) <= 1 + 1e-12
    assert min(scores) < 1


def test_belief_error():
    truth, *_ = knowledge_setup()
    assert beliefs.belief_error(truth, truth) == 0.0
    assert beliefs.belief_error(truth + 0.01, truth) == pytest.approx(0.01)
    off = truth.copy()
    off[0, 0, 0] += 0.12  # one cell of 120
    assert beliefs.belief_error(off, truth) == pytest.approx(0.12 / np.sqrt(truth.size))
    batch = np.stack([truth, truth - 0.03, truth + 0.05])
    np.testing.assert_allclose(beliefs.belief_error(batch, truth), [0.0, 0.03, 0.05])
