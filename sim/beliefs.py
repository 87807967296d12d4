"""Beliefs about what works for whom: conjugate posteriors, forgetting, pooling, knowledge.

Every actor believes that one unit of effort with approach a on domain k of a citizen in
segment s lowers that need by beta[s, a, k] a month. Observations are the monthly
fall in a measured need, net of the known drift: z = beta * effort + noise. With a
normal prior (the published evidence) and normal noise the posterior stays normal,
and everything an actor has seen is two sufficient statistics per cell:

    evidence[..., 0] = sum(effort^2) / sigma^2      (precision gained)
    evidence[..., 1] = sum(effort * z) / sigma^2    (precision-weighted information)

Forgetting multiplies both by a factor below one each month, so old data fades and
drift can be tracked. Pooling is adding evidence; nothing is counted twice because
each actor's external evidence excludes what it contributed itself.
"""

from __future__ import annotations

import numpy as np

PRECISION, INFORMATION = 0, 1


def empty(shape: tuple[int, ...]) -> np.ndarray:
    """No evidence for cells of ``shape`` (the last axis holds the two statistics)."""
    return np.zeros((*shape, 2))


def accumulate(shape: tuple[int, ...], cell: np.ndarray, effort: np.ndarray, z: np.ndarray,
               sigma: float) -> np.ndarray:
    """Evidence from observations ``z = beta[cell] * effort + noise`` (noise sd ``sigma``).

    Args:
        shape: the cells' shape, e.g. (P, S, A, K).
        cell: flat index of each observation's cell in ``shape``.
        effort: effort behind each observation.
        z: observed fall of the need net of drift.
        sigma: standard deviation of one observation's noise.
    """
    size = int(np.prod(shape))
    out = np.empty((size, 2))
    out[:, PRECISION] = np.bincount(cell, weights=effort * effort, minlength=size)
    out[:, INFORMATION] = np.bincount(cell, weights=effort * z, minlength=size)
    return (out / sigma**2).reshape(*shape, 2)


def posterior(prior_mean: np.ndarray, prior_sd: np.ndarray, prior_weight: float,
              evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd given the published prior (its precision scaled by ``prior_weight``)."""
    prior_precision = prior_weight / prior_sd**2
    precision = prior_precision + evidence[..., PRECISION]
    mean = (prior_precision * prior_mean + evidence[..., INFORMATION]) / precision
    return mean, 1.0 / np.sqrt(precision)


def sample(mean: np.ndarray, sd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from the posterior: a working hypothesis to act on (Thompson sampling)."""
    return mean + sd * rng.standard_normal(mean.shape)


def value_estimate(professional: np.ndarray, reported_sum: np.ndarray, reported_n: np.ndarray,
                   pseudo_reports: float) -> np.ndarray:
    """What an actor believes each segment values (S, K): the professional view, updated by voice.

    The professional view counts as ``pseudo_reports`` citizens' reports.
    """
    est = (pseudo_reports * professional + reported_sum) / (pseudo_reports + reported_n[..., None])
    return est / est.sum(axis=-1, keepdims=True)


def segment_gain(effect: np.ndarray, values: np.ndarray, need_pattern: np.ndarray) -> np.ndarray:
    """Wellbeing gain per unit effort of each approach for each segment (..., S, A).

    Only the domains the segment typically needs can improve; each is weighted by value.
    """
    weights = values * need_pattern                       # (..., S, K)
    return np.einsum("...sak,...sk->...sa", effect, weights)


def chosen_gain(believed_gain: np.ndarray, true_gain: np.ndarray) -> np.ndarray:
    """The true gain (..., S) of the approach each segment's believer picks: the one with the
    highest ``believed_gain`` (..., S, A), judged on ``true_gain`` (S, A).
    """
    choice = believed_gain.argmax(axis=-1)  # (..., S)
    return np.take_along_axis(np.broadcast_to(true_gain, (*choice.shape, true_gain.shape[-1])),
                              choice[..., None], axis=-1)[..., 0]


def quality(achieved: np.ndarray, true_gain: np.ndarray, segment_weight: np.ndarray,
            zero: np.ndarray | None = None) -> np.ndarray:
    """Decision quality of choices whose true gain per segment is ``achieved`` (..., S): 1 = the
    oracle's, 0 = ``zero``'s gain per segment (default: choosing at random), weighted by segment.

    NaN where an explicit ``zero`` is already the oracle's choice (there is nothing to gain).
    """
    floor = true_gain.mean(axis=-1) if zero is None else zero
    room = float((true_gain.max(axis=-1) - floor) @ segment_weight)
    if zero is not None and room <= 1e-12:
        return np.full(achieved.shape[:-1], np.nan)
    return ((achieved - floor) @ segment_weight) / max(room, 1e-12)


def decision_quality(believed: np.ndarray, believed_values: np.ndarray, truth: np.ndarray,
                     true_values: np.ndarray, need_pattern: np.ndarray,
                     segment_weight: np.ndarray) -> np.ndarray:
    """Knowledge as decision quality: the share of the oracle's gain that acting on beliefs achieves.

    For each segment the believer picks the approach with the highest believed gain; the result is
    judged on the true gain. 0 = no better than picking at random, 1 = the oracle's choice; negative
    means worse than random. Segments are weighted by their share of arrivals.

    Args:
        believed: believed effects (..., S, A, K).
        believed_values: believed value weights (..., S, K).
        truth: true effects (S, A, K).
        true_values: true mean value weights per segment (S, K).
        need_pattern: which domains each segment needs (S, K).
        segment_weight: weight of each segment (S,).
    """
    true_gain = segment_gain(truth, true_values, need_pattern)              # (S, A)
    believed_gain = segment_gain(believed, believed_values, need_pattern)
    return quality(chosen_gain(believed_gain, true_gain), true_gain, segment_weight)


def knowledge_parts(believed: np.ndarray, believed_values: np.ndarray, truth: np.ndarray,
                    true_values: np.ndarray, need_pattern: np.ndarray, segment_weight: np.ndarray,
                    published: np.ndarray, professional_values: np.ndarray) -> dict[str, np.ndarray]:
    """Decision quality (see ``decision_quality``) in four parts, each of shape (...).

    - ``combined``: acting on the beliefs about effects and about values (0 = random choice);
    - ``effects``: the beliefs about effects acted on with the true values;
    - ``values``: the true effects acted on with the beliefs about values;
    - ``gain``: combined, measured from acting on the ``published`` evidence with the
      ``professional_values`` (0 = no better than the published evidence; NaN if that is already
      the oracle's choice).
    """
    true_gain = segment_gain(truth, true_values, need_pattern)                          # (S, A)
    combined = chosen_gain(segment_gain(believed, believed_values, need_pattern), true_gain)
    effects = chosen_gain(segment_gain(believed, true_values, need_pattern), true_gain)
    # the true effects' gain per unit of each domain's weight: (S, A, K) once, not per believer
    values = chosen_gain(np.einsum("sak,...sk->...sa", truth * need_pattern[:, None, :],
                                   believed_values), true_gain)
    published_choice = chosen_gain(segment_gain(published, professional_values, need_pattern),
                                   true_gain)
    return {"combined": quality(combined, true_gain, segment_weight),
            "effects": quality(effects, true_gain, segment_weight),
            "values": quality(values, true_gain, segment_weight),
            "gain": quality(combined, true_gain, segment_weight, zero=published_choice)}


def evidence_share(posterior_sd: np.ndarray, prior_sd: np.ndarray, prior_weight: float) -> np.ndarray:
    """How much an actor has learnt beyond the published evidence: the share of the prior's variance
    its own and shared data have removed, averaged over cells (..., S, A, K) -> (...).

    0 = it knows only what the published evidence says; towards 1 = data dominate everywhere.
    """
    prior_var = prior_sd**2 / prior_weight
    return (1.0 - posterior_sd**2 / prior_var).mean(axis=(-3, -2, -1))


def belief_error(believed: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Root mean square error of believed effects, over cells (..., S, A, K) -> (...)."""
    return np.sqrt(((believed - truth) ** 2).mean(axis=(-3, -2, -1)))
