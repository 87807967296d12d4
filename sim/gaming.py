"""Gaming as falsified records (ODD 7.10): the least change to a case's recorded scores that makes
it meet the measure, each falsified domain open to detection on its own, chosen when what the
false report brings outweighs what it risks and what it costs a provider's integrity.

Everything here is a small pure function over arrays of cases; ``reporting.settle`` applies them.
"""

from __future__ import annotations

import numpy as np


def falsification(record: np.ndarray, weights: np.ndarray, threshold: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest change to each case's recorded needs (n, K) that makes it meet the measure.

    A recorded score can be lowered, not below zero. Detection rises with each domain's change
    and falls steeply for small ones (``detection_chance``), so one change on the most heavily
    weighted domain, by gap / weight, is cheaper than several: a threshold measure needs one
    change by the gap; a composite needs a change of gap / weight on its heaviest domain (larger
    than the gap), or, where that domain's score is too low to absorb it, further changes on the
    next heaviest, in turn.

    Returns:
        The change per case and domain (n, K), and whether the case can be made to meet the
        measure at all (n,).
    """
    gap = record @ weights - threshold                       # how far each case misses (n,)
    change = np.zeros_like(record)
    left = np.maximum(gap, 0.0)
    for k in np.argsort(-weights, kind="stable"):
        if weights[k] <= 0:
            break
        room = np.maximum(record[:, k], 0.0)
        step = np.minimum(left / weights[k], room)
        change[:, k] = step
        left = np.maximum(left - weights[k] * step, 0.0)
    return change, left <= 1e-12


def domain_detection(change: np.ndarray, resolution: float) -> np.ndarray:
    """Chance that checking a falsified domain against the case finds it, per case and domain:
    ``1 - exp(-change / resolution)``: a small change passes for honest error, a large one is
    nearly always found (``payment.audit_resolution``: the change found two times in three).
    """
    return 1.0 - np.exp(-change / resolution)


def detection_chance(change: np.ndarray, audit_rate: float, voice_check: float, voice: bool,
                     resolution: float) -> np.ndarray:
    """Chance that a false report with these changes (n, K) is found in its month (n,).

    An audit (``audit_rate`` of reports) checks every domain of the report against the case, and
    finds each falsified one with ``domain_detection``; where citizens' voice is collected, the
    citizen's own report contradicts each falsified domain with ``voice_check`` times that chance.
    """
    q = domain_detection(change, resolution)
    missed_by_audit = np.prod(1.0 - q, axis=1)
    missed_by_voice = np.prod(1.0 - voice_check * q, axis=1) if voice else 1.0
    return 1.0 - (1.0 - audit_rate * (1.0 - missed_by_audit)) * missed_by_voice


def false_report_gain(price: np.ndarray, stake: np.ndarray, detection: np.ndarray,
                      clawback: bool, sanction: float) -> np.ndarray:
    """What a false report is expected to bring (GBP per case): the outcome payment (kept unless
    found out where payments are clawed back) and its stake in the provider's standing (lost if
    found out: the report comes off the league table), less the expected cost of the sanction
    that finding it out brings (``sanction``: what the trust it loses is worth).
    """
    kept = 1.0 - detection
    return price * (kept if clawback else 1.0) + stake * kept - detection * sanction


def falsifies(gain: np.ndarray, mission: np.ndarray, thrift: np.ndarray, integrity_cost: float
              ) -> np.ndarray:
    """Whether a provider falsifies a record: the money a false report brings, valued as money is
    (``(1 - mission) * thrift * gain``), outweighs what lying to its commissioner costs it in its
    own terms (``mission * integrity_cost``).
    """
    return (1.0 - mission) * thrift * gain > mission * integrity_cost
