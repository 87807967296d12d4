"""Two regimes on one world, stepped in lockstep: the model the dashboard drives.

Mesa's visualisation drives one ``mesa.Model``. ``Pair`` is that model: it owns one
``CommissioningModel`` per regime, built with the same seed so that both face the same world
(common random numbers: the same citizens, shocks and true effects), and steps them together.
What the runs are is a ``Design``: the two regime presets, the levers changed on each, the
context, the population size and the seed.

A change of design applies from month 0: the runs it changes are built again and stepped to the
current month on the same world, so the two regimes stay comparable month by month. (Changing
a lever in the middle of a run would mean reaching into the model's internal state, which the
model's public interface does not offer.)
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

import mesa
import pandas as pd

from sim import CommissioningModel, Scenario, ScenarioError, load
from sim.presets import find_file, preset_description, preset_paths

SIDES = ("A", "B")
"""The two regimes, in the order the page shows them; B may be switched off."""


def regime_presets() -> list[str]:
    """The preset regimes, by name."""
    return [name for name in preset_paths() if "/" not in name]


def context_presets() -> list[str]:
    """The preset contexts, by name."""
    return [name.split("/", 1)[1] for name in preset_paths() if name.startswith("contexts/")]


def describe_preset(name: str | None) -> str:
    """The one-line description of a preset or TOML file ("" for none, or for a file without one)."""
    if name is None:
        return ""
    try:
        return preset_description(find_file(name))
    except ScenarioError:  # a file that has gone since the page opened
        return ""


@dataclasses.dataclass(frozen=True)
class Design:
    """What the dashboard runs.

    Attributes:
        regimes: the preset (or TOML file) of regime A and of regime B (None: A alone).
        levers: for each side, the scenario fields changed from its preset (dotted paths).
        context: the context preset (or TOML file) both regimes run in.
        world: fields both regimes share, changed from the context (uncertainty, control,
            population size), by dotted path.
        seed: the seed both runs share.
    """

    regimes: tuple[str, str | None] = ("target_driven", "learning_oriented")
    levers: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {})
    context: str = "moderate"
    world: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0

    @property
    def sides(self) -> tuple[int, ...]:
        """The indices of the regimes that run (0, or 0 and 1)."""
        return (0, 1) if self.regimes[1] is not None else (0,)

    def scenario(self, side: int) -> Scenario:
        """The validated scenario of one side.

        Raises:
            ScenarioError: a field out of range or of the wrong type, in one line.
        """
        return load(self.regimes[side], self.context, overrides={**self.world, **self.levers[side]})

    def label(self, side: int) -> str:
        """How the page names a side: its letter, its preset and whether levers were changed."""
        changed = len(self.levers[side])
        edited = f", {changed} field{'s' * (changed != 1)} changed" if changed else ""
        return f"{SIDES[side]}: {self.regimes[side]}{edited}"

    def with_regime(self, side: int, regime: str | None) -> Design:
        """Another preset on one side, with its levers as the preset sets them."""
        return self._checked(regimes=_put(self.regimes, side, regime), levers=_put(self.levers, side, {}))

    def with_lever(self, side: int, path: str, value: Any) -> Design:
        """One field of one side's regime changed."""
        return self._checked(levers=_put(self.levers, side, {**self.levers[side], path: value}))

    def with_context(self, context: str) -> Design:
        """Another context, with uncertainty and control as it sets them."""
        kept = {k: v for k, v in self.world.items() if not k.startswith("context.")}
        return self._checked(context=context, world=kept)

    def with_world(self, path: str, value: Any) -> Design:
        """One shared field changed (uncertainty, control, population size)."""
        return self._checked(world={**self.world, path: value})

    def with_seed(self, seed: int) -> Design:
        """Another seed: another world for both regimes."""
        return self._checked(seed=seed)

    def _checked(self, **changes: Any) -> Design:
        design = dataclasses.replace(self, **changes)
        for side in design.sides:
            design.scenario(side)
        return design


def _put(pair: tuple, side: int, value: Any) -> tuple:
    return tuple(value if i == side else item for i, item in enumerate(pair))


class Pair(mesa.Model):
    """The runs of a design, stepped in lockstep (``step`` steps each run one month).

    Args:
        design: what to run (default: target-driven against learning-oriented, moderate context).

    Attributes:
        design: the design the runs follow.
        runs: one ``CommissioningModel`` per side that runs, keyed by side index.
        lock: held while the runs step or are rebuilt (the page may step them from a thread).
    """

    def __init__(self, *, design: Design | None = None) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.design = design or Design()
        self.runs: dict[int, CommissioningModel] = {}
        self._built: dict[int, tuple[Scenario, int]] = {}
        self._build()

    @property
    def month(self) -> int:
        """The month every run has reached."""
        return int(round(self.time))

    def step(self) -> None:
        with self.lock:
            for run in self.runs.values():
                run.step()

    def redesign(self, design: Design) -> None:
        """Follow a new design: rebuild the runs it changes and step them to the current month."""
        with self.lock:
            self.design = design
            self._build()

    def results(self) -> dict[int, pd.DataFrame]:
        """Each run's per-month table (row 0 is the start), keyed by side index."""
        return {side: run.results() for side, run in self.runs.items()}

    def labels(self) -> dict[int, str]:
        """Each running side's label."""
        return {side: self.design.label(side) for side in self.runs}

    def _build(self) -> None:
        runs = {}
        for side in self.design.sides:
            built = (self.design.scenario(side), self.design.seed)
            if self._built.get(side) == built:
                runs[side] = self.runs[side]
                continue
            run = CommissioningModel(scenario=built[0], rng=self.design.seed)
            for _ in range(self.month):
                run.step()
            runs[side], self._built[side] = run, built
        self.runs = runs
        self._built = {side: self._built[side] for side in runs}
