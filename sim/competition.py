"""Competition that can select, and practices that spread (ODD 7.23).

Providers differ in persistent capability, drawn for each entrant from a market of potential
entrants: a multiplier on the true effect of each approach it delivers (its skill, which nobody
knows: its outcomes show it) and a factor on what its approaches and effort cost it (which it
knows). Every contract let is competed: a few potential entrants bid, and the lowest bid wins.

A provider's practice is how it works beyond what it believes: how it splits its effort across
domains (its ``emphasis`` on each, which scales what effort there is worth to it when it sets
effort) and how cheaply it rates each approach (``favour``, which also sets how readily it serves a
case rather than parks it). Entrants copy the practice of the provider at the
top of the league table, with variation of their own; incumbents move part of the way towards it at
each re-tendering. A provider takes up another's practice only as far as its mission lets it depart
from the professional norm: intrinsic motivation bounds the drift that selection on a proxy drives
(Braganza 2022, Royal Society Open Science 9: 211030).

A practice is one vector: the log weights of its emphasis on the K domains, then its log discount on
each of the A approaches' costs; 0 everywhere is the professional norm (an even emphasis, every
approach rated at its cost).

Every draw comes from the world's keyed stream ``MARKET``, keyed by the slot, the slot's entry
number and the bidder, so the n-th entrant in a slot is the same in every regime (common random
numbers), whatever happened before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.world import MARKET, keyed_normal

AT_THE_NORM = {"capability_spread": 0.0, "cost_spread": 0.0, "practice_variation": 0.0}
"""The scenario overrides that switch the mechanism off: every provider works at the norm (skill 1,
cost factor 1, practice 0), whatever ``bidders`` and ``imitation_rate`` are."""


@dataclass(frozen=True)
class Candidates:
    """The potential entrants bidding for one contract, one row each.

    Attributes:
        skill: multiplier on the true effect of each approach it would deliver (B, A).
        cost: factor on what its approaches and effort would cost it (B,).
        variation: standard normal errors of its copy of a practice (B, K + A), before scaling.
    """

    skill: np.ndarray
    cost: np.ndarray
    variation: np.ndarray


def mean_one(z: np.ndarray, spread: float) -> np.ndarray:
    """Lognormal factors with mean 1 and ``spread`` the standard deviation of their log, from
    standard normals ``z``.
    """
    return np.exp(spread * z - spread**2 / 2)


def candidates(key: int, slot: int, entry: int, bidders: int, n_approaches: int, n_domains: int,
               capability_spread: float, cost_spread: float) -> Candidates:
    """The ``bidders`` potential entrants for the ``entry``-th contract let in ``slot``.

    Each bidder's draws depend only on (world key, slot, entry, bidder), so a bidder is the same
    however many others bid, and in every regime.
    """
    ids = (np.arange(bidders, dtype=np.uint64) << np.uint64(32)) | np.uint64(slot)
    z = keyed_normal(key, ids, entry, 2 * n_approaches + 1 + n_domains, MARKET)
    return Candidates(mean_one(z[:, :n_approaches], capability_spread),
                      mean_one(z[:, n_approaches], cost_spread), z[:, n_approaches + 1:])


def lowest_bid(cost: np.ndarray) -> int:
    """Which bidder wins: the lowest bid (ties to the first).

    A bid is what delivering the contract would cost the bidder: its cost factor times the cost
    of the service at the professional norm, the same for every bidder, so the lowest cost factor
    bids lowest. Nobody knows a bidder's skill before it delivers, so bids cannot compete on it.
    """
    return int(np.argmin(cost))


def adopt(model: np.ndarray | None, variation: np.ndarray, mission: float) -> np.ndarray:
    """An entrant's practice: what it copies of the ``model``'s departure from the professional
    norm, only as far as its ``mission`` lets it (none without a model), and its own ``variation``
    (its copy is imperfect, and its own ways differ).
    """
    return variation if model is None else (1.0 - mission) * model + variation


def imitate(practice: np.ndarray, model: np.ndarray, rate: float, mission: float) -> np.ndarray:
    """An incumbent's practice after a re-tendering: part of the way (``rate``) towards the
    ``model``'s, as far as its ``mission`` lets it depart from the norm.
    """
    return practice + rate * ((1.0 - mission) * model - practice)


def focus(practice: np.ndarray, n_domains: int) -> np.ndarray:
    """Each domain's share of the practice's emphasis (..., K): a softmax of its log weights."""
    weights = np.exp(practice[..., :n_domains])
    return weights / weights.sum(axis=-1, keepdims=True)


def emphasis(practice: np.ndarray, n_domains: int) -> np.ndarray:
    """How strongly the practice's ways of working respond to each domain (..., K): ``n_domains``
    times its focus, so the weights average 1 (the professional norm: 1 everywhere).
    """
    return n_domains * focus(practice, n_domains)


def favour(practice: np.ndarray, n_domains: int) -> np.ndarray:
    """How cheaply the practice rates each approach (..., A): a log discount on its cost."""
    return practice[..., n_domains:]
