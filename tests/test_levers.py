"""Every lever acts: changing any lever field moves some measure, in at least one preset.

Each field is set to another value in every regime preset in turn, on the same world (common
random numbers), and the two runs' monthly measures are compared. A field that moves nothing in
any preset is a lever that does nothing (as the sharing threshold did while open data handed every
case report to every provider).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run, small

from sim.regime import LEVERS
from sim.scenario import field_paths

PRESETS = ("target_driven", "learning_oriented", "hybrid_targets_with_forums",
           "hybrid_outcomes_learning", "context_led")
MONTHS = 30

# Another value for each lever field: far enough from every preset's own to act, within range.
OTHER_VALUE = {
    "regime.data_coverage": ("metric_domain", "metric_counts"),
    "regime.citizen_voice": (True, False),
    "regime.voice_check": (0.9, 0.0),
    "regime.shared_purpose": (1.0, 0.0),
    "regime.forum_interval": (2, 0),
    "regime.forum_commissioner": (False, True),
    "regime.forum_citizens": (True, False),
    "regime.share_threshold": (0.9, 0.0),
    "regime.measure": ("composite", "threshold"),
    "regime.measured_domain": ("housing", "employment"),
    "regime.measure_threshold": (0.6, 0.1),
    "regime.payment.shared_risk": (0.9, 0.0),
    "regime.review_interval": (4, 0),
    "regime.review_rate": (1.0, 0.1),
    "regime.context_led": (True, False),
    "regime.context_margin": (0.0, 0.2),
    "regime.prior_weight": (20.0, 0.05),
    "regime.open_data": (True, False),
}
"""For each field, the value to try, and the one to try where a preset already has the first."""

LEVER_FIELDS = [f for lever in LEVERS for f in lever.fields]

SLOWER = {"regime.context_margin": 60}
"""Fields that can act only later: the months to try them over. The hysteresis margin acts from
the second assessment of the context (month 24) on."""

CONTEXT = {"regime.context_margin": {"context.uncertainty": 0.5, "context.control": 0.5}}
"""Fields that can act only in some contexts: the context to try them in. The hysteresis margin
acts only where an estimate falls within it of the boundary, so in a world on the boundary."""


def measures(scenario, seed: int = 5, months: int = MONTHS) -> pd.DataFrame:
    return run(scenario, seed, months).results()


def moved(base: pd.DataFrame, other: pd.DataFrame) -> list[str]:
    """The measures whose monthly values differ between two runs by more than rounding."""
    numbers = base.select_dtypes("number").columns
    differs = ~np.isclose(base[numbers].to_numpy(float), other[numbers].to_numpy(float),
                          rtol=1e-9, atol=1e-12, equal_nan=True)
    words = [c for c in base.columns if c not in numbers and not base[c].equals(other[c])]
    return list(numbers[differs.any(axis=0)]) + words


def test_every_lever_field_has_another_value_to_try():
    assert sorted(OTHER_VALUE) == sorted(LEVER_FIELDS)
    paths = field_paths()
    assert all(f in paths for f in OTHER_VALUE)


@pytest.fixture(scope="module")
def baselines() -> dict[str, pd.DataFrame]:
    return {preset: measures(small(preset)) for preset in PRESETS}


@pytest.mark.parametrize("field", LEVER_FIELDS)
def test_every_lever_field_moves_some_measure_in_some_preset(field, baselines):
    where = {}
    months = SLOWER.get(field, MONTHS)
    for preset in PRESETS:
        scenario = small(preset, **CONTEXT.get(field, {}))
        base = (baselines[preset] if months == MONTHS and field not in CONTEXT
                else measures(scenario, months=months))
        own = scenario.summary()
        for part in field.split("."):
            own = own[part]
        first, second = OTHER_VALUE[field]
        other = scenario.with_overrides({field: second if own == first else first})
        where[preset] = moved(base, measures(other, months=months))
    assert any(where.values()), f"{field} moves no measure in any preset"


# --- the mechanisms that make levers 1, 3 and 7 separable ------------------------------------------

def test_trust_rises_at_a_forum_only_with_what_the_others_share():
    from sim.providers import trust_after_forum

    assert trust_after_forum(0.5, 0.0, 0.06) == 0.5
    assert trust_after_forum(0.5, 1.0, 0.06) == pytest.approx(0.53)
    assert trust_after_forum(0.5, 0.5, 0.06) == pytest.approx(0.515)


def test_a_league_table_names_its_bottom_quarter_and_nobody_where_all_score_alike():
    from sim.providers import bottom_of_table

    scores = np.array([0.3, 0.1, 0.5, 0.2, 0.8, 0.6, 0.4, 0.7])
    assert np.flatnonzero(bottom_of_table(scores, 0.25)).tolist() == [1, 3]
    assert not bottom_of_table(np.full(8, 0.2), 0.25).any()
    assert not bottom_of_table(np.array([0.1]), 0.25).any()
    assert bottom_of_table(np.array([0.1, 0.2]), 0.25).tolist() == [True, False]


def test_a_league_table_is_punitive_only_for_a_provider_it_names_at_the_bottom():
    model = run(small("target_driven"), seed=1, months=2)
    provider = model.providers[0]
    provider.sanctioned = False
    before = provider.mission = provider.founding_mission = 0.8
    provider.update_mission(model.regime, 0.1, named_at_bottom=False)
    assert provider.mission == before  # no shared purpose to pull it up, nothing punitive
    provider.update_mission(model.regime, 0.1, named_at_bottom=True)
    assert provider.mission < before


def test_open_data_publishes_what_is_pooled_and_nothing_a_provider_did_not_share():
    from sim.beliefs import PRECISION

    nobody = run(small("learning_oriented", share_threshold=1.0), seed=2, months=8)
    assert not nobody.evidence.pool.any() and not nobody.evidence.external.any()
    assert not nobody.commissioner.pool_view.any()
    everyone = run(small("learning_oriented", share_threshold=0.0), seed=2, months=8)
    slots = [p.slot for p in everyone.providers]
    received = everyone.evidence.external[slots][..., PRECISION].sum(axis=(1, 2, 3))
    assert (received > 0).all()  # every provider receives what the others shared


def test_a_forum_where_nobody_shares_builds_no_trust():
    model = run(small("hybrid_targets_with_forums", share_threshold=1.0, trust_loss=0.0), seed=3,
                months=12)
    assert all(p.trust == model.scenario_config.providers.initial_trust for p in model.providers)
    shared = run(small("hybrid_targets_with_forums", share_threshold=0.0, trust_loss=0.0), seed=3,
                 months=12)
    assert all(p.trust > shared.scenario_config.providers.initial_trust for p in shared.providers)


def test_citizens_tell_what_changed_where_no_assessment_reaches_the_hearer():
    from sim.beliefs import PRECISION

    narrow = dict(citizen_voice=True, data_coverage="metric_counts", forum_interval=0,
                  open_data=False)
    model = run(small("target_driven", **narrow), seed=4, months=6)
    employment = model.regime.measured_index
    assert model.regime.heard_by_providers.tolist() == [k != employment for k in range(4)]
    assert model.regime.heard_by_commissioner.all()  # no case data reaches it at all
    provider_heard = model.evidence.heard[..., PRECISION].sum(axis=(0, 1, 2))
    assert provider_heard[employment] == 0 and (np.delete(provider_heard, employment) > 0).all()
    assert (model.commissioner.heard[..., PRECISION].sum(axis=(0, 1)) > 0).all()
    silent = run(small("target_driven", **{**narrow, "citizen_voice": False}), seed=4, months=6)
    assert not silent.evidence.heard.any() and not silent.commissioner.heard.any()
    covered = small("learning_oriented").with_overrides({"data_coverage": "all_domains"})
    assert not run(covered, seed=4, months=2).commissioner.heard.any()  # assessments cover all
