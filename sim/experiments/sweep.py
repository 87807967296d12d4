"""Parameter sweeps: a TOML specification, its design expanded to runs, run on Dask, stored as Parquet.

A sweep specification::

    [sweep]
    base = ["learning_oriented"]       # presets or files, merged with sim.scenario.load
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

The store is a folder: ``manifest.json`` (the spec, its hash, package versions, the number of
runs), ``summary/part-<first run>.parquet`` (one row per run) and, with ``keep_steps``,
``steps/part-<first run>.parquet`` (the per-month tables with a ``run`` column). Run ``i``'s seed is
``SeedSequence(seed, spawn_key=(i,))`` so results never depend on batching or on the workers. With
``common_random_numbers`` it is ``SeedSequence(seed, spawn_key=(r,))`` for replicate ``r`` instead:
replicate ``r`` of every design point and regime faces the same world (citizens, arrivals, shocks,
true effects), as in ``compare``, so that differences between points are not lost in the noise
between worlds: what a sensitivity analysis of a stochastic model needs, and what makes the
regimes' differences in a cell paired.

Faults: a batch whose worker dies is run again on another worker by the Dask scheduler (up to its
``distributed.scheduler.allowed-failures`` lost workers, 3 by default); a batch that still cannot
finish is split into single runs, and a run that keeps killing its workers is recorded as failed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.experiments.output import atomic_write, versions
from sim.experiments.statistics import final_and_average
from sim.scenario import Scenario, ScenarioError, describe, field_paths, load, resolve_field

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
    """A validated spec from parsed TOML; raises ScenarioError (one line naming the field)."""
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"{source}: {describe(err, hint='')}") from None
    try:
        bases = base_scenarios(spec)
    except ScenarioError as err:
        raise ScenarioError(f"{source}: sweep.base/regimes: {err}") from None
    for name, par in spec.parameters.items():
        try:
            resolve_field(name)
        except ScenarioError as err:
            raise ScenarioError(f"{source}: parameters.{name}: {err}") from None
        values = par.levels if par.levels is not None else [_cast(name, par.min), _cast(name, par.max)]
        for value in values:
            for scenario in bases.values():
                try:
                    scenario.with_overrides({name: value})
                except ScenarioError as err:
                    raise ScenarioError(f"{source}: parameters.{name}: {err}") from None
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep specification file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: malformed TOML: {err}") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read: {err.strerror}") from None
    return parse_spec(data, source=str(path))


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


def summarise(results: pd.DataFrame) -> dict[str, float]:
    """One run's numeric measures: ``final_<measure>`` and ``mean_<measure>`` over months 1..steps."""
    measures = [c for c in results.select_dtypes("number").columns if c != "month"]
    final, average = final_and_average(results.assign(run=0), measures, ["run"])
    out: dict[str, float] = {}
    for col in measures:
        out[f"final_{col}"] = float(final[col].iloc[0])
        out[f"mean_{col}"] = float(average[col].iloc[0])
    return out


def measure_columns(bases: dict[str, Scenario]) -> list[str]:
    """The summary measure columns, from a one-month run of each base scenario.

    Every summary part gets all of them (NaN for a failed run), so the parts share one schema
    even when a whole batch fails.
    """
    from sim.experiments import runs

    names: dict[str, None] = {}
    for scenario in bases.values():
        try:
            names.update(dict.fromkeys(summarise(runs.run(scenario, 1, 0))))
        except Exception:  # noqa: BLE001 - then the parts carry what their runs produced
            continue
    return list(names)


def run_batch(bases: dict[str, Scenario], items: list[RunItem], steps: int, seed: int, keep_steps: bool,
              measures: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run a batch; a run that raises is recorded as failed with its error text.

    ``measures`` are summary columns every row gets (NaN where a run failed).
    """
    from sim.experiments import runs

    rows, tables = [], []
    for item in items:
        row = _row(item, "ok", "")
        try:
            scenario = bases[item.regime].with_overrides(item.values)
            results = runs.run(scenario, steps, run_seed(seed, item.stream))
            row.update(summarise(results))
            if keep_steps:
                tables.append(results.assign(run=item.run))
        except Exception as err:  # noqa: BLE001 - a failed run is data, the sweep goes on
            row.update(status="failed", error=f"{type(err).__name__}: {err}")
        rows.append(row)
    steps_df = pd.concat(tables, ignore_index=True) if tables else None
    return _with_measures(pd.DataFrame(rows), measures), steps_df


def _row(item: RunItem, status: str, error: str) -> dict[str, Any]:
    return {"run": item.run, "point": item.point, "replicate": item.replicate, "regime": item.regime,
            **item.values, "status": status, "error": error}


def _with_measures(summary: pd.DataFrame, measures: list[str] | None) -> pd.DataFrame:
    for name in measures or []:
        if name not in summary:
            summary[name] = np.nan
    return summary


def timed_batch(*args: Any) -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
    """``run_batch(*args)`` and the seconds it took on the worker.

    The model's modules are imported before the clock starts: a fresh worker's imports are not
    the cost of its runs.
    """
    import sim.experiments.runs  # noqa: F401

    start = time.perf_counter()
    summary, steps = run_batch(*args)
    return summary, steps, time.perf_counter() - start


def failed_batch(items: list[RunItem], error: str, measures: list[str]) -> pd.DataFrame:
    """Summary rows recording ``items`` as failed with ``error`` (runs that never returned)."""
    return _with_measures(pd.DataFrame([_row(item, "failed", error) for item in items]), measures)


TASK_SECONDS = 1.0
"""Work per Dask task that batching aims at: scheduling a task, moving its result and writing its
part cost milliseconds, so about 1% of a second."""
TASKS_PER_THREAD = 4
"""Fewest tasks per worker thread that batching keeps, so that threads finish together."""


def auto_batch_size(run_seconds: float, n_runs: int, threads: int) -> int:
    """Runs per task for runs of ``run_seconds`` each: about TASK_SECONDS of work per task, but at
    least TASKS_PER_THREAD tasks per thread, and at least one run.
    """
    by_cost = int(TASK_SECONDS / run_seconds) if run_seconds > 0 else n_runs
    by_balance = math.ceil(n_runs / (max(1, threads) * TASKS_PER_THREAD))
    return max(1, min(by_cost, by_balance))


# --- the store -------------------------------------------------------------------------------------

def write_atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_atomic_json(data: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def done_runs(store: Path) -> set[int]:
    """Run indices already in the store's summary parts."""
    found: set[int] = set()
    for part in sorted((Path(store) / "summary").glob("part-*.parquet")):
        found.update(int(r) for r in pd.read_parquet(part, columns=["run"])["run"])
    return found


def read_store(store: str | Path) -> tuple[SweepSpec, pd.DataFrame]:
    """A store's spec (from its manifest) and its summary rows, one per run, in run order.

    Raises:
        ScenarioError: the folder is not a sweep store, or holds no runs yet.
    """
    store = Path(store)
    manifest = store / "manifest.json"
    if not manifest.is_file():
        raise ScenarioError(f"{store}: not a sweep store (no manifest.json); make one with commsim sweep")
    try:
        spec = SweepSpec.model_validate(json.loads(manifest.read_text())["spec"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as err:
        raise ScenarioError(f"{manifest}: unreadable: {type(err).__name__}") from None
    if not any((store / "summary").glob("part-*.parquet")):
        raise ScenarioError(f"{store}: no runs in the store yet (summary/ has no parts)")
    summary = pd.read_parquet(store / "summary").sort_values("run").reset_index(drop=True)
    return spec, summary


# What an analysis reports unless told otherwise: outcomes, learning, gaming and value for money.
DEFAULT_MEASURES = ["mean_mean_wellbeing", "final_commissioner_knowledge", "mean_gaming_rate",
                    "final_wellbeing_per_1000"]


def choose_measures(requested: list[str] | None, available: list[str]) -> list[str]:
    """The summary columns to analyse: the ones requested (each checked), else the defaults.

    Raises:
        ScenarioError: a requested name is not a summary column; the message lists the measures.
    """
    for name in requested or []:
        if name not in available:
            bare = [c.removeprefix("final_") for c in available if c.startswith("final_")]
            raise ScenarioError(f"--measure {name!r}: not a summary column; allowed: final_<measure> "
                                f"(last month) or mean_<measure> (months 1..steps), with <measure> one "
                                f"of {', '.join(bare)}")
    return list(dict.fromkeys(requested)) if requested else [m for m in DEFAULT_MEASURES if m in available]


def prepare_store(spec: SweepSpec, store: Path, n_runs: int, resume: bool) -> set[int]:
    """Check the store against the spec, write the manifest; return the runs already done."""
    store = Path(store)
    manifest = store / "manifest.json"
    if store.exists() and not store.is_dir():
        raise ScenarioError(f"{store}: exists and is not a folder")
    nonempty = store.is_dir() and any(store.iterdir())
    if nonempty and not resume:
        raise ScenarioError(f"{store}: the store is not empty; use --resume to continue it, or another --out")
    if nonempty:
        if not manifest.is_file():
            raise ScenarioError(f"{store}: not a sweep store (no manifest.json); refusing to resume")
        try:
            old = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ScenarioError(f"{manifest}: unreadable: {err}") from None
        if old.get("hash") != spec.digest():
            raise ScenarioError(f"{store}: made by another spec (hash {str(old.get('hash'))[:12]}, "
                                f"this spec {spec.digest()[:12]}); refusing to resume")
        done = done_runs(store)
        # per-month parts whose summary part never landed are incomplete batches, and temporary
        # files are writes (atomic_write's) that a killed sweep left unfinished: drop them
        summaries = {p.name for p in (store / "summary").glob("part-*.parquet")}
        for part in (store / "steps").glob("part-*.parquet"):
            if part.name not in summaries:
                part.unlink()
        for tmp in [*store.glob(".manifest.json-*.tmp"), *store.glob("*/.part-*.parquet-*.tmp")]:
            tmp.unlink()
        return done
    write_atomic_json({"spec": spec.model_dump(mode="json"), "hash": spec.digest(),
                       "versions": versions(), "n_runs": n_runs}, manifest)
    return set()


def batches_of(items: list[RunItem], size: int) -> list[list[RunItem]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def write_batch(store: Path, summary: pd.DataFrame, steps: pd.DataFrame | None) -> None:
    """Write one batch's parts: the per-month part first, so a summary part means a whole batch."""
    name = f"part-{int(summary['run'].min()):08d}.parquet"
    if steps is not None:
        write_atomic_parquet(steps, Path(store) / "steps" / name)
    write_atomic_parquet(summary, Path(store) / "summary" / name)


def run_sweep(spec: SweepSpec, store: str | Path, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress: bool = True) -> dict[str, int]:
    """Run a sweep on Dask distributed, writing each batch to the store as it arrives.

    Without ``spec.sweep.batch_size``, one run per worker thread goes first, timed on its worker,
    and the other runs follow in batches of ``auto_batch_size`` for that cost. Every task carries
    the base scenarios (a few kB) rather than sharing scattered data, which the scheduler could not
    rebuild once every worker holding it had died.

    Returns counts: ``runs`` (in the design), ``skipped`` (already done), ``ok`` and ``failed``.
    """
    from contextlib import ExitStack

    from distributed import Client, KilledWorker, as_completed
    from tqdm.auto import tqdm

    store = Path(store)
    items = expand(spec)
    bases = base_scenarios(spec)
    counts = {"runs": len(items), "skipped": 0, "ok": 0, "failed": 0}
    with ExitStack() as stack:
        # a scheduler that cannot be reached is bad input: found before the store is touched
        client = stack.enter_context(connect(scheduler)) if scheduler else None
        done = prepare_store(spec, store, len(items), resume)
        todo = [item for item in items if item.run not in done]
        counts["skipped"] = len(items) - len(todo)
        if not todo:
            return counts
        measures = measure_columns(bases)
        settings = spec.sweep
        if client is None:
            client = stack.enter_context(Client(stack.enter_context(local_cluster(workers))))
        client.wait_for_workers(1)
        threads = sum(client.nthreads().values())
        batch_of: dict[Any, list[RunItem]] = {}

        def submit(batch: list[RunItem]) -> Any:
            future = client.submit(timed_batch, bases, batch, settings.steps, settings.seed,
                                   settings.keep_steps, measures, pure=False)
            batch_of[future] = batch
            return future

        if settings.batch_size:
            first, rest = batches_of(todo, settings.batch_size), []
        else:
            first, rest = batches_of(todo[:threads], 1), todo[threads:]
        queue = as_completed([submit(batch) for batch in first])
        with tqdm(total=len(items), initial=counts["skipped"], unit="run", desc="sweep",
                  disable=not progress) as bar:
            for future in queue:
                batch = batch_of.pop(future)
                try:
                    summary, steps, seconds = future.result()
                except KilledWorker as err:
                    if len(batch) > 1:  # run its runs one by one, so only a run that kills is lost
                        queue.update(submit([item]) for item in batch)
                        continue
                    error = (f"KilledWorker: its worker died {err.allowed_failures + 1} time(s), "
                             f"the last {err.last_worker.address}")
                    summary, steps, seconds = failed_batch(batch, error, measures), None, math.inf
                finally:
                    future.release()
                if rest:  # the first batch back sets the size of the others
                    size = auto_batch_size(seconds / len(batch), len(rest), threads)
                    queue.update(submit(b) for b in batches_of(rest, size))
                    rest = []
                write_batch(store, summary, steps)
                failed = int((summary["status"] == "failed").sum())
                counts["failed"] += failed
                counts["ok"] += len(summary) - failed
                bar.update(len(summary))
    return counts


def local_cluster(workers: int | None = None) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded processes (default: one per CPU)."""
    import logging

    import dask
    from distributed import LocalCluster

    # Dask's nannies set MALLOC_TRIM_THRESHOLD_ in their workers, which turns off glibc's dynamic
    # mmap threshold: a run's many short-lived arrays of 128 kB and more are then mapped and
    # unmapped every time, and runs took a median 15% longer (docs/performance.md, Sweeps)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                            dashboard_address=":0", silence_logs=logging.ERROR)


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``; ScenarioError if it cannot be reached."""
    from distributed import Client

    try:
        return Client(address)
    except (OSError, ValueError) as err:  # a timeout, a refused connection, an unknown scheme
        raise ScenarioError(f"--scheduler {address}: {err}") from None
