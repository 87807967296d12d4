"""The model reproduces the published patterns (issue 3): every check, for five base seeds.

Each check is the same code `commsim validate` runs; its verdict rules are stated in
sim/experiments/validation.py before any data is seen.
"""

import pytest

from sim.experiments.validation import CHECKS

pytestmark = pytest.mark.validation

SEEDS = [0, 1, 2, 3, 4]
REPS = 10


def failed(check):
    return [f"{f.claim}: {f.effect()} ({f.rule})" for f in check.findings if not f.passed]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["creaming", "goodhart", "knowledge", "contingency", "multitask"])
def test_check_passes(name, seed):
    check = CHECKS[name](REPS, seed)
    assert not failed(check)


@pytest.mark.parametrize("seed", SEEDS)
def test_regret_grows_logarithmically(seed):
    check = CHECKS["pooled"](REPS, seed)
    assert check.findings[1].passed, failed(check)


@pytest.mark.xfail(strict=True, reason=(
    "Not reproduced for every seed: pooling cuts per-provider regret about M-fold, the gap-dependent "
    "prediction at the range's lower edge, and for some seeds a little more (below 1/M); see "
    "docs/validation.md"))
def test_pooled_learning_cuts_regret_as_the_bandit_results_say_for_every_seed():
    outside = [f"seed {seed}: {failed(check)}" for seed in SEEDS
               if not (check := CHECKS["pooled"](REPS, seed)).findings[0].passed]
    assert not outside
