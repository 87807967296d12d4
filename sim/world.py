"""The hidden truth: what works for whom, how it drifts, and what nobody controls.

Everything here draws from the *world's* random stream, never from the agents'
stream, so that replicate i of every regime faces the same world (common random
numbers). Per-citizen noise (shocks, measurement error, voice) is keyed by the
citizen's id, the month and the domain, so a citizen meets the same shocks
whichever regime serves them and however many other citizens are present.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from sim.scenario import Scenario

APPROACHES = ("work_first", "housing_first", "health_led", "key_worker", "peer_support")

# How strongly each approach moves each domain (employment, housing, health, social).
PROFILE = np.array([
    [1.00, 0.05, 0.05, 0.10],   # work-first: employment fast, little else
    [0.15, 1.00, 0.25, 0.15],   # housing-first
    [0.10, 0.10, 1.00, 0.30],   # health-led
    [0.60, 0.60, 0.60, 0.60],   # key-worker: every domain, slower
    [0.15, 0.05, 0.30, 1.00],   # peer support: social connection
])
# Strength of each approach for the lightest and for the most complex segment, in the published
# evidence; segments in between are interpolated.
FIT_LIGHT = np.array([1.6, 1.0, 1.0, 0.6, 0.8])
FIT_COMPLEX = np.array([0.1, 0.9, 0.8, 1.5, 0.6])
APPROACH_COST = np.array([120.0, 260.0, 240.0, 380.0, 90.0])  # GBP per case-month
# What citizens value relative to the professional view (needs weighted by severity): they value
# housing and social connection more, employment less. Revealed only through voice.
VALUE_SALIENCE = np.array([0.6, 1.3, 1.0, 1.4])
MIN_OBS_SD = 0.01  # the least noise agents assume in an observed change, even in a noise-free world
# The keyed noise streams (``World.noise``): each use of per-citizen noise has its own, so no two
# uses share a draw: shocks, the monthly record, monthly voice, voice at forums, the record made at
# arrival, the outcome assessments providers learn from, and citizens' accounts of change. MARKET
# keys the potential entrants (``sim.competition``) by bidder and slot in place of a citizen, and by
# entry in place of a month.
SHOCK, MEASUREMENT, VOICE, FORUM_VOICE, INTAKE_RECORD, ASSESSMENT, VOICE_CHANGE, MARKET = range(8)


def complexity(n_segments: int) -> np.ndarray:
    """Each segment's place from 0 (one light need) to 1 (many severe needs)."""
    return np.linspace(0.0, 1.0, n_segments)


def segment_need_pattern(n_segments: int, n_domains: int) -> np.ndarray:
    """Which domains are typically in need for each segment, as a 0/1 matrix (S, K).

    Segment s needs the first 1 + round(c_s (K - 1)) domains: everyone needs work (the first
    domain), and the more complex the segment, the more of housing, health and social connection.
    """
    n_needs = 1 + np.round(complexity(n_segments) * (n_domains - 1))
    return (np.arange(n_domains)[None, :] < n_needs[:, None]).astype(float)


def published_effects(n_segments: int, effect_scale: float) -> np.ndarray:
    """The published evidence base: mean effect per (segment, approach, domain), shape (S, A, K)."""
    c = complexity(n_segments)[:, None]
    fit = FIT_LIGHT + (FIT_COMPLEX - FIT_LIGHT) * c             # (S, A)
    return effect_scale * fit[:, :, None] * PROFILE[None, :, :]


def drift_truth(dev: np.ndarray, rho: float, sd: np.ndarray, z: np.ndarray) -> np.ndarray:
    """One month of the truth's departure from the evidence: an AR(1) with stationary sd ``sd``."""
    return rho * dev + np.sqrt(1.0 - rho**2) * sd * z


def shock_sd(effect_scale: float, control: float) -> float:
    """Monthly shock so that providers' actions cause a share ``control`` of outcome variance.

    One unit of well-matched effort moves a need by about ``effect_scale`` a month; shocks of variance
    effect_scale^2 (1 - control) / control make that share equal to ``control``.
    """
    return effect_scale * np.sqrt((1.0 - control) / control)


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN, _COLUMN = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03)
_S11, _S27, _S30, _S31 = (np.uint64(s) for s in (11, 27, 30, 31))


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised (uint64 arithmetic wraps, as it should)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _mix_in_place(z: np.ndarray) -> np.ndarray:
    """``_mix`` overwriting ``z``, with one scratch array instead of a temporary per operation."""
    t = np.empty_like(z)
    np.right_shift(z, _S30, out=t)
    z ^= t
    z *= _M1
    np.right_shift(z, _S27, out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, _S31, out=t)
    z ^= t
    return z


KEYED_CHUNK = 1 << 13  # citizens hashed at a time: the scratch arrays stay in cache


def keyed_normal(key: int, ids: np.ndarray, month: int, width: int, stream: int) -> np.ndarray:
    """Standard normals, shape (len(ids), width), that depend only on (key, id, month, column, stream).

    A counter-based generator: numpy's generators cannot give citizen-keyed random access without a
    per-citizen loop, and common random numbers across regimes need exactly that. Computed in
    blocks of ``KEYED_CHUNK`` citizens (each value depends only on its own key, so the blocks change
    nothing but speed).
    """
    with np.errstate(over="ignore"):
        base = _mix(np.uint64(key) ^ _mix(np.uint64(month * 0x9E3779B97F4A7C15 % 2**64)
                                            ^ np.uint64(stream)))
        column = np.arange(width, dtype=np.uint64) * _COLUMN + base  # wrapping sums: order is free
    ids = ids.astype(np.uint64)
    out = np.empty((len(ids), width))
    with np.errstate(over="ignore"):
        for start in range(0, len(ids), KEYED_CHUNK):
            z = ids[start: start + KEYED_CHUNK, None] * _GOLDEN + column
            _mix_in_place(z)
            np.right_shift(z, _S11, out=z)
            u = out[start: start + KEYED_CHUNK]
            np.copyto(u, z, casting="unsafe")  # the top 53 bits, centred in their interval of (0, 1)
            u += 0.5
            u *= 2.0**-53
            ndtri(u, out=u)
    return out


class World:
    """The truth the agents try to learn, with its own random stream.

    Attributes:
        need_pattern: which domains each segment typically needs (S, K).
        value_pattern: what citizens of each segment value on average (S, K): hidden.
        professional_values: what professionals assume they value (S, K): everyone's starting view.
        prior_mean: published mean effect per (segment, approach, domain).
        prior_sd: the published evidence's standard deviation for each effect.
        truth: the current local true effect per (segment, approach, domain).
        shock_sd: monthly standard deviation of exogenous shocks to each need.
        obs_sd: noise agents assume in an observed monthly change of a need (shocks plus two
            measurements), never below MIN_OBS_SD: nobody treats a record as exact.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.rng = rng
        self.key = int(rng.integers(2**63))
        pop, ctx, w = scenario.population, scenario.context, scenario.world
        self.n_segments = len(pop.segment_mix)
        self.n_domains = PROFILE.shape[1]
        self.segment_mix = np.asarray(pop.segment_mix) / np.sum(pop.segment_mix)
        self.need_pattern = segment_need_pattern(self.n_segments, self.n_domains)
        self.value_pattern = self.need_pattern * 0.8 + 0.2
        self.value_pattern *= VALUE_SALIENCE
        self.value_pattern /= self.value_pattern.sum(axis=1, keepdims=True)
        profession = self.need_pattern * 0.8 + 0.2  # the professional view: needs by severity
        self.professional_values = profession / profession.sum(axis=1, keepdims=True)
        self.value_concentration = pop.value_concentration
        self.prior_mean = published_effects(self.n_segments, w.effect_scale)
        self.prior_sd = np.full_like(self.prior_mean, w.prior_sd * w.effect_scale)
        self.departure_sd = (ctx.uncertainty * w.departure_sd * w.effect_scale
                             * np.sqrt(PROFILE)[None, :, :] * np.ones_like(self.prior_mean))
        self.rho = 1.0 - ctx.uncertainty * w.drift_speed
        self.deviation = self.departure_sd * rng.standard_normal(self.prior_mean.shape)
        self.shock_sd = shock_sd(w.effect_scale, ctx.control)
        self.measurement_sd = w.measurement_sd
        self.obs_sd = max(float(np.sqrt(self.shock_sd**2 + 2 * w.measurement_sd**2)), MIN_OBS_SD)
        self.need_drift = pop.need_drift
        self.arrivals_mean = pop.arrival_rate * pop.n_citizens

    @property
    def truth(self) -> np.ndarray:
        return self.prior_mean + self.deviation

    def drift(self) -> None:
        """Move the local truth one month on."""
        z = self.rng.standard_normal(self.deviation.shape)
        self.deviation = drift_truth(self.deviation, self.rho, self.departure_sd, z)

    def arrivals(self) -> int:
        return int(self.rng.poisson(self.arrivals_mean))

    def new_citizens(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments, needs (n, K) and value weights (n, K) of ``n`` new citizens."""
        segment = self.rng.choice(self.n_segments, size=n, p=self.segment_mix)
        c = complexity(self.n_segments)[segment][:, None]
        typical = self.need_pattern[segment]
        needy = np.where(self.rng.random(typical.shape) < 0.1, 1.0 - typical, typical)
        severity = 0.4 + 0.45 * c
        severe = self.rng.beta(8 * severity, 8 * (1 - severity), size=typical.shape)
        light = self.rng.uniform(0.0, 0.08, typical.shape)
        need = np.where(needy > 0, severe, light)
        values = self.rng.gamma(self.value_concentration * self.value_pattern[segment])
        values /= values.sum(axis=1, keepdims=True)
        return segment, need, values

    def noise(self, ids: np.ndarray, month: int, stream: int) -> np.ndarray:
        """Per-citizen, per-domain standard normals for ``month``, keyed (see ``keyed_normal``)."""
        return keyed_normal(self.key, ids, month, self.n_domains, stream)

    def record(self, need: np.ndarray, ids: np.ndarray, month: int,
               stream: int = MEASUREMENT) -> np.ndarray:
        """Needs as a record or an assessment shows them at the end of ``month`` (ODD 7.3): with
        measurement noise, a score, not clipped. Each ``stream`` has errors of its own.
        """
        noise = self.noise(ids, month, stream)
        noise *= self.measurement_sd
        noise += need
        return noise

    def segment_mean(self, per_segment: np.ndarray) -> np.ndarray:
        """Average a per-segment quantity (S, ...) over segments, weighted by arrivals."""
        return np.tensordot(self.segment_mix, per_segment, axes=1)
