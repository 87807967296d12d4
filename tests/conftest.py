"""Shared helpers for the model-core tests: small scenarios and short runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
