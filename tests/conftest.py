"""Shared helpers for the model-core tests: small scenarios and short runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sim.measures import MEASURES
from sim.model import CommissioningModel
from sim.presets import load
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
# subprocesses import this checkout's sim, whichever checkout the tests run from
CHECKOUT_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}

# Small enough that a 36-month run takes a few hundredths of a second.
SMALL = {"n_citizens": 200, "n_providers": 4, "capacity": 30}


def small(*names: str, **extra) -> Scenario:
    """Presets (a regime and optionally a context) merged, shrunk to SMALL, plus ``extra`` fields."""
    scenario = load(*names) if names else Scenario()
    return scenario.with_overrides({**SMALL, **extra})


def run(scenario: Scenario, seed: int, months: int) -> CommissioningModel:
    """A model stepped month by month for ``months`` months."""
    model = CommissioningModel(scenario=scenario, rng=seed)
    for _ in range(months):
        model.step()
    return model


@pytest.fixture(scope="session")
def learning_run() -> CommissioningModel:
    """One learning-oriented run of 24 months, shared by read-only tests."""
    return run(small("learning_oriented"), seed=11, months=24)


# --- what must hold after every month ----------------------------------------------------------------

MAY_BE_NAN: frozenset[str] = frozenset(name for name, m in MEASURES.items() if m.undefined_when)
"""The measures that may be NaN: those with nothing to measure in some month (no hardest-to-help
citizen in service, say), as the measure registry says. The one place the tests say which; every
other measure must be finite."""

SHARES = ["parked_share", "parked_share_hardest", "waiting_share_hardest", "measure_value",
          "true_outcome", "gaming_rate", "mean_trust", "mean_mission", "measure_weight_on_domain"]
WELLBEING = ["mean_wellbeing", "hardest_wellbeing"]
KNOWLEDGE = ["commissioner_knowledge", "provider_knowledge", "system_knowledge"]
ERRORS = ["commissioner_belief_error", "provider_belief_error", "system_belief_error"]
COUNTS = ["citizens", "waiting", "in_service", "served", "parked", "refused", "refused_hardest",
          "arrived_total", "resolved_total", "timed_out_total", "unserved_total", "false_reports",
          "detected_gaming", "provider_exits_total", "provider_replaced_total", "providers",
          "spend", "spend_total"]


def check_month(model: CommissioningModel, budget: float, allow_overspend: bool) -> None:
    """Everything that must hold after every month: citizens and money conserved, the budget kept
    (unless overspend is allowed), every measure finite (or NaN, for those in MAY_BE_NAN) and in
    range, needs in [0, 1], caseloads within capacity.
    """
    pop, m = model.population, model.measures
    active = np.count_nonzero(pop.active)
    # citizens are conserved; everyone left is still followed until their follow-up ends
    assert pop.arrived == active + pop.resolved + pop.timed_out + pop.discharged + pop.unserved
    window = model.scenario_config.population.followup_months
    assert (model.time - pop.referred[~pop.active] <= window).all()
    assert m["followed"] == np.count_nonzero((pop.referred >= 1) & (model.time - pop.referred <= window))
    assert m["arrived_total"] == m["citizens"] + m["resolved_total"] + m["timed_out_total"] \
        + m["discharged_total"] + m["unserved_total"]
    assert m["citizens"] == active == m["waiting"] + m["in_service"]
    assert m["in_service"] == m["served"] + m["parked"]
    # money is conserved (what the commissioner spent, providers received or its own activities
    # cost), and the budget holds unless overspend is allowed
    com = model.commissioner
    spent, received = com.spent, model.market.received + com.costs_total
    assert spent == pytest.approx(received, rel=1e-6, abs=1e-6)
    assert m["spend_total"] == pytest.approx(received, rel=1e-6, abs=1e-6)
    if not allow_overspend:  # the budget binds payments once the commissioner's own costs are paid
        assert com.paid_this_month <= max(budget - com.costs_this_month, 0.0) * (1 + 1e-9) + 1e-9
    # measures are finite and in range (a NaN only where MAY_BE_NAN allows it)
    for name, value in m.items():
        if isinstance(value, int | float | np.number):
            assert np.isfinite(value) or (name in MAY_BE_NAN and np.isnan(value)), (name, value)

    def within(name: str, low: float = -np.inf, high: float = np.inf, slack: float = 1e-9) -> bool:
        return bool(np.isnan(m[name]) or low - slack <= m[name] <= high + slack)  # NaN: checked above

    for name in SHARES + WELLBEING:
        assert within(name, 0.0, 1.0, slack=1e-12), (name, m[name])
    for name in KNOWLEDGE:
        assert within(name, high=1.0), (name, m[name])
    for name in ERRORS + COUNTS:
        assert within(name, low=0.0), (name, m[name])
    assert within("goodhart_gap", -1.0, 1.0, 0.0) and within("equity_gap", -1.0, 1.0, 0.0)
    assert m["detected_gaming"] <= m["false_reports"] and m["refused_hardest"] <= m["refused"]
    assert np.isnan(m["mean_wellbeing"]) == (m["followed"] == 0)
    assert np.isnan(m["parked_share"]) == (m["in_service"] == 0)
    for estimate in (model.commissioner.estimated_uncertainty, model.commissioner.estimated_control):
        assert estimate is None or 0.0 <= estimate <= 1.0
    # needs stay in [0, 1]; no provider holds more cases than places
    if len(pop):
        assert pop.need.min() >= 0.0 and pop.need.max() <= 1.0
    for provider in model.providers:
        assert provider.caseload <= provider.capacity
        assert provider.caseload == np.count_nonzero(pop.provider == provider.slot)  # kept count
    assert np.all(np.isin(pop.provider[pop.in_service], [p.slot for p in model.providers]))



@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each ``xdist_group`` on one pytest-xdist worker under pytest 9.2.

    With ``--dist loadgroup``, pytest-xdist (3.8) adds the group to an item's node id by setting
    ``item._nodeid``, which pytest 9.2 no longer reads (it keeps node ids in ``item._id``), so the
    groups were silently spread over the workers. Where the two differ, use xdist's id. This is
    pytest-xdist issue 1386 (fix proposed in pull request 1388); drop this hook once a release
    with the fix is the minimum in pyproject.toml.
    """
    from _pytest.nodeid import NodeId

    for item in items:
        tagged = getattr(item, "_nodeid", None)
        if isinstance(tagged, str) and tagged != item.nodeid:
            item._id = NodeId.parse(tagged)
