"""A sweep's specification: a TOML file, validated, and its design expanded to runs.

A sweep specification::

    [sweep]
    base = ["learning_oriented"]       # presets or files, merged with sim.presets.load
    regimes = []                       # optional: presets merged after base, one more factor
    design = "full_factorial"          # or "latin_hypercube", "sobol", "morris"
    samples = 0                        # for latin_hypercube, sobol and morris
    replicates = 2
    steps = 60
    seed = 0
    keep_steps = false                 # keep the per-month tables, or only per-run summaries
    common_random_numbers = false      # true: replicate r of every point has the same seed
    # batch_size = 16                  # optional: runs per Dask task (default: from a run's cost)

    [parameters.uncertainty]
    levels = [0.1, 0.5, 0.9]           # full factorial: levels; the others: min and max, or levels

In a sampled design a parameter given by ``levels`` is a discrete factor, each level equally likely
(how a switch such as ``context_led`` or a choice such as ``measure`` enters a Sobol study).

Run ``i``'s seed is ``SeedSequence(seed, spawn_key=(i,))`` so results never depend on batching or
on the workers. With ``common_random_numbers`` it is ``SeedSequence(seed, spawn_key=(r,))`` for
replicate ``r`` instead: replicate ``r`` of every design point and regime faces the same world
(citizens, arrivals, shocks, true effects), as in ``compare``, so that differences between points
are not lost in the noise between worlds: what a sensitivity analysis of a stochastic model needs,
and what makes the regimes' differences in a cell paired.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.presets import load, read_toml
from sim.scenario import (
    Scenario,
    ScenarioError,
    describe,
    field_paths,
    one_line,
    resolve_field,
    smallest_positive,
)

Design = Literal["full_factorial", "latin_hypercube", "sobol", "morris"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(_Strict):
    """One swept field: ``levels`` (any design) or a ``min``/``max`` range (sampled designs)."""

    levels: list[Any] | None = Field(default=None, min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _levels_or_range(self) -> Parameter:
        has_range = self.min is not None or self.max is not None
        if self.levels is not None and has_range:
            raise ValueError("give either levels or min/max, not both")
        if self.levels is None:
            if self.min is None or self.max is None:
                raise ValueError("give levels = [...] or both min and max")
            if not self.min < self.max:
                raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class SweepSettings(_Strict):
    """The ``[sweep]`` table."""

    base: list[str] = Field(default_factory=list)
    regimes: list[str] = Field(default_factory=list)
    design: Design = "full_factorial"
    samples: int | None = Field(default=None, ge=1)
    replicates: int = Field(default=1, ge=1)
    steps: int = Field(default=60, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)
    keep_steps: bool = False
    common_random_numbers: bool = False
    batch_size: int | None = Field(default=None, ge=1)


class SweepSpec(_Strict):
    """A whole sweep specification."""

    sweep: SweepSettings
    parameters: dict[str, Parameter] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _design_fits(self) -> SweepSpec:
        if not self.parameters and not self.sweep.regimes:
            raise ValueError("no parameters to sweep: add [parameters.<field>] tables or sweep.regimes")
        factorial = self.sweep.design == "full_factorial"
        for name, par in self.parameters.items():
            if factorial and par.levels is None:
                raise ValueError(f"parameters.{name}: full_factorial needs levels = [...]")
        if not factorial:
            if self.sweep.samples is None:
                raise ValueError(f"sweep.samples: {self.sweep.design} needs samples")
            if not self.parameters:
                raise ValueError(f"{self.sweep.design} needs at least one [parameters.<field>] table")
        return self

    def digest(self) -> str:
        """SHA-256 over a canonical JSON of the spec, without ``batch_size``.

        Batching does not change any result, so a store may be resumed with another batch size.
        """
        data = self.model_dump(mode="json", exclude={"sweep": {"batch_size"}})
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


SPEC_FIELDS = ["parameters", *(f"sweep.{name}" for name in SweepSettings.model_fields)]
"""What a misspelt name in a spec may have meant."""


@dataclass(frozen=True)
class RunItem:
    """One run of the design; its seed is spawned from the base seed and ``stream``."""

    run: int
    point: int
    replicate: int
    regime: str
    values: dict[str, Any]
    stream: int


def parse_spec(data: dict[str, Any], source: str = "sweep spec") -> SweepSpec:
    """A validated spec from parsed TOML.

    Raises:
        ScenarioError: one line naming ``source`` and every problem: each field of the spec, and
            each swept field's name and values checked against every base scenario.
    """
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(one_line(source, describe(err, hint="", known=SPEC_FIELDS))) from None
    try:
        bases = base_scenarios(spec)
    except ScenarioError as err:
        bases = {}
        found = [f"sweep.base/regimes: {err}"]
    else:
        found = []
    for name, par in spec.parameters.items():
        found += [f"parameters.{name}: {problem}" for problem in _parameter_problems(name, par, bases)]
    if found:
        raise ScenarioError(one_line(source, found))
    return spec


def _parameter_problems(name: str, par: Parameter, bases: dict[str, Scenario]) -> list[str]:
    """What is wrong with one swept field: its name, or a value some base scenario refuses.

    A range is checked at both ends; the values between are then valid too, except for a sum of
    money, which may be 0 but not less than a penny: a range that starts below a penny would
    sample values between 0 and a penny.
    """
    try:
        path = resolve_field(name)
    except ScenarioError as err:
        return [str(err)]
    if par.levels is None:
        floor = smallest_positive(field_paths()[path])
        if floor is not None and par.min < floor:
            return [f"min = {par.min}: a range must start at {floor} or above (a value between 0 and "
                    f"{floor} means nothing); to include 0, give levels"]
    values = par.levels if par.levels is not None else [_cast(name, par.min), _cast(name, par.max)]
    found: dict[str, None] = {}  # in order, each once (several bases may refuse the same value)
    for value in values:
        for scenario in bases.values():
            try:
                scenario.with_overrides({name: value})
            except ScenarioError as err:
                found[str(err).removeprefix("overrides: ")] = None
    return list(found)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep specification file."""
    path = Path(path)
    return parse_spec(read_toml(path), source=str(path))


def base_scenarios(spec: SweepSpec) -> dict[str, Scenario]:
    """The base scenario of each regime (key ``""`` when the spec has no regimes)."""
    if not spec.sweep.regimes:
        return {"": load(*spec.sweep.base)}
    return {name: load(*spec.sweep.base, name) for name in spec.sweep.regimes}


def _is_int(name: str) -> bool:
    return field_paths()[resolve_field(name)].annotation is int


def _cast(name: str, value: Any) -> Any:
    if _is_int(name):
        return int(round(float(value)))
    return float(value)


MORRIS_LEVELS = 4  # the grid of a Morris design; its analysis must assume the same
SOBOL_SECOND_ORDER = True  # Saltelli's sample with second-order terms: N (2D + 2) points


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """The SALib problem of a sampled design: one variable per parameter, in the spec's order.

    A parameter given by ``levels`` spans [0, 1], cut into one equal bin per level.
    """
    bounds = [[0.0, 1.0] if p.levels is not None else [p.min, p.max] for p in spec.parameters.values()]
    return {"num_vars": len(spec.parameters), "names": list(spec.parameters), "bounds": bounds}


def design_sample(spec: SweepSpec) -> np.ndarray:
    """A sampled design's points in the space of ``salib_problem``, one row per design point, in order.

    The sweep runs these rows (through ``design_points``) and ``commsim sensitivity`` analyses its
    results against the same rows.
    """
    problem = salib_problem(spec)
    seed, n = spec.sweep.seed, spec.sweep.samples
    if spec.sweep.design == "latin_hypercube":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=problem["num_vars"], seed=seed).random(n)
        low, high = np.array(problem["bounds"]).T
        return qmc.scale(unit, low, high)
    if spec.sweep.design == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=SOBOL_SECOND_ORDER, seed=seed)
    if spec.sweep.design == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    raise ValueError(f"{spec.sweep.design} is not a sampled design")


def _value(name: str, par: Parameter, x: float) -> Any:
    """The field value at coordinate ``x`` of a sampled design point."""
    if par.levels is not None:
        return par.levels[min(int(x * len(par.levels)), len(par.levels) - 1)]
    return _cast(name, x)


def design_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter values of every design point (before regimes and replicates)."""
    names = list(spec.parameters)
    pars = [spec.parameters[n] for n in names]
    if not names:
        return [{}]
    if spec.sweep.design == "full_factorial":
        combos = itertools.product(*(p.levels for p in pars))
        return [dict(zip(names, combo, strict=True)) for combo in combos]
    return [{name: _value(name, par, x) for name, par, x in zip(names, pars, row, strict=True)}
            for row in design_sample(spec)]


def expand(spec: SweepSpec) -> list[RunItem]:
    """Every run: points (regimes x design points) x replicates, numbered in that order."""
    regimes = spec.sweep.regimes or [""]
    points = [(regime, values) for regime in regimes for values in design_points(spec)]
    reps, common = spec.sweep.replicates, spec.sweep.common_random_numbers
    return [RunItem(run=p * reps + r, point=p, replicate=r, regime=regime, values=values,
                    stream=r if common else p * reps + r)
            for p, (regime, values) in enumerate(points) for r in range(reps)]


def run_seed(base_seed: int, run_index: int) -> np.random.SeedSequence:
    """Run ``run_index``'s seed: the same as ``SeedSequence(base_seed).spawn(n)[run_index]``."""
    return np.random.SeedSequence(base_seed, spawn_key=(run_index,))
