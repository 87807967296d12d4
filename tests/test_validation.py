"""The model against the published patterns: every check, for five base seeds.

Each check is the same code `commsim validate` runs; its verdict rules are stated in
sim/experiments/validation.py before any data is seen.
"""

import pytest

from sim.experiments.validation import CHECKS, CORNERS, contingency, pooling_by_noise
from sim.statistics import mean_ci

pytestmark = pytest.mark.validation

SEEDS = [0, 1, 2, 3, 4]
# the pooled-learning findings as restated in issue 15 were written after seeds 0-4 had been
# studied (docs/pooled_noise.py), so they are tested on worlds nobody had looked at
POOLED_SEEDS = [5, 6, 7, 8, 9]
REPS = 10


# Findings that fail, as docs/validation.md reports and explains ("What the model does not
# reproduce"): (check, seed) -> the indices of its failing findings. The test fails if any other
# finding fails, and also if one of these starts to pass, so the report is kept true either way.
KNOWN_FAILURES = {
    # creaming (docs/validation.md, "What the model does not reproduce"): (2) differential prices
    # cut the share of the hardest to help turned away to within noise of the block grant's in
    # three of the five worlds, where the Work Programme found they did little
    **{("creaming", seed): {2} for seed in (0, 1, 3)},
    # Goodhart: (1) taking three quarters of a deficit off providers narrows the gap by 0.013 to
    # 0.019 in three worlds, but by 0.003 to 0.005 with intervals including zero in two: shared risk
    # eases only providers in deficit, while league tables and re-tendering press on every one;
    # (2) a composite measure draws as many false reports per case that misses it as a threshold
    # does, or more (+0.0005 to +0.0017)
    **{("goodhart", seed): {2} for seed in (0, 1, 2)},
    **{("goodhart", seed): {1, 2} for seed in (3, 4)},
    # knowledge of effects rises under learning for every seed, but with 10 replicates its 95%
    # interval includes 0 for one of the five worlds
    ("knowledge", 3): {0},
    # at equal spend and against no service, the target-driven regime gains more per pound than
    # the learning-oriented one in the complex, uncontrollable corner too
    **{("contingency", seed): {1} for seed in SEEDS},
    # pooled learning, seeds 5-9 (docs/validation.md, "Pooling beats the asymptotic range at 120
    # months"): (a) and (c) hold in all five; (b) the slope of the last doubling's ratio on M is
    # steeper than -1 in all five (-1.01 to -1.31): pooling helps more
    # than the asymptotic rates say at this horizon
    **{("pooled", seed): {2} for seed in (5, 6, 7, 8, 9)},
    # competition (ODD 7.23), under the target-driven preset: (0) the low-capability half is
    # replaced more often in four worlds of five (-0.02 to +0.13 of a share), its 95% interval above
    # 0 for seed 3 only: the score re-tendering selects on moves far more with creaming, parking and
    # false reports than with a skill spread of 0.2; (1) practices do not drift towards the
    # measured domain (-0.010 to +0.005 of emphasis over 180 months): a bend towards the measure
    # does not pay on the score, so selection does not favour it; (2) so replacing half rather
    # than a quarter does not make them drift faster (-0.02 to +0.03, every interval including 0)
    **{("competition", seed): {0, 1, 2} for seed in (0, 1, 2, 4)},
    ("competition", 3): {1, 2},
}


def failed(check):
    return [f"{f.claim}: {f.effect()} ({f.rule})" for f in check.findings if not f.passed]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["creaming", "goodhart", "knowledge", "contingency", "multitask",
                                  "competition"])
def test_check_passes_but_for_the_known_failures(name, seed):
    check = (CHECKS[name](REPS, seed) if name != "contingency"  # its findings read two cells only
             else contingency(REPS, seed, cells=CORNERS))
    failing = {i for i, f in enumerate(check.findings) if not f.passed}
    assert failing == KNOWN_FAILURES.get((name, seed), set()), failed(check)


@pytest.mark.parametrize("seed", POOLED_SEEDS)
def test_pooled_learning_but_for_the_known_failures(seed):
    check = CHECKS["pooled"](REPS, seed)
    failing = {i for i, f in enumerate(check.findings) if not f.passed}
    assert failing == KNOWN_FAILURES.get(("pooled", seed), set()), failed(check)


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_helps_less_when_observations_are_noisier(seed):
    """Bandit theory, and the textbook setting (docs/pooled_noise.py), tie the pooled / isolated
    regret ratio to observation noise: it rises as one observation tells less. From half the default
    measurement noise to twice it, paired by world."""
    ratio = pooling_by_noise([0.02, 0.08], REPS, seed).pivot(
        index="replicate", columns="measurement_sd", values="ratio")
    mean, low, high = mean_ci(ratio[0.08] - ratio[0.02])
    assert low > 0, f"ratio rises by {mean:.3f} [{low:.3f}, {high:.3f}]"
