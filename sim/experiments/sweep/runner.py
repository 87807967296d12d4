"""Running a sweep on Dask distributed: batches of runs, on local workers or a cluster.

Faults: a batch whose worker dies is run again on another worker by the Dask scheduler (up to its
``distributed.scheduler.allowed-failures`` lost workers, 3 by default); a batch that still cannot
finish is split into single runs, and a run that keeps killing its workers is recorded as failed.
A run that raises is recorded as failed with its error; the sweep goes on.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.sweep.spec import RunItem, SweepSpec, base_scenarios, expand, run_seed
from sim.experiments.sweep.store import prepare_store, store_lock, summarise, write_batch
from sim.scenario import Scenario, ScenarioError


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
    missing = [name for name in measures or [] if name not in summary]
    if not missing:
        return summary
    # added at once: column by column fragments the frame (a batch of failed runs lacks them all)
    return pd.concat([summary, pd.DataFrame(np.nan, index=summary.index, columns=missing)], axis=1)


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


def batches_of(items: list[RunItem], size: int) -> list[list[RunItem]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_sweep(spec: SweepSpec, store: str | Path, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress: bool = True) -> dict[str, int]:
    """Run a sweep on Dask distributed, writing each batch to the store as it arrives.

    Without ``spec.sweep.batch_size``, one run per worker thread goes first, timed on its worker,
    and the other runs follow in batches of ``auto_batch_size`` for that cost. Every task carries
    the base scenarios (a few kB) rather than sharing scattered data, which the scheduler could not
    rebuild once every worker holding it had died.

    The store is held (``store_lock``) for the whole sweep: a second sweep of it is refused.

    Returns counts: ``runs`` (in the design), ``skipped`` (already done), ``ok`` and ``failed``.
    """
    from contextlib import ExitStack

    from distributed import Client, KilledWorker, as_completed

    store = Path(store)
    items = expand(spec)
    bases = base_scenarios(spec)
    counts = {"runs": len(items), "skipped": 0, "ok": 0, "failed": 0}
    with ExitStack() as stack:
        # a scheduler that cannot be reached is bad input: found before the store is touched
        client = stack.enter_context(connect(scheduler)) if scheduler else None
        stack.enter_context(store_lock(store))
        done = prepare_store(spec, store, len(items), resume)
        todo = [item for item in items if item.run not in done]
        counts["skipped"] = len(items) - len(todo)
        if not todo:
            return counts
        measures = measure_columns(bases)
        settings = spec.sweep
        if client is None:
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(Client(cluster))
            # every worker it started: the first runs and the batch size are planned for them all
            # (Client(cluster) waits for them too in distributed 2026.8, but does not promise to)
            client.wait_for_workers(len(cluster.worker_spec))
        else:
            client.wait_for_workers(1)  # a cluster's workers come and go: plan for those up now
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
        with progress_bar(len(items), counts["skipped"], progress) as bar:
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


BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
"""tqdm's default bar but for the rate, always in runs a second: tqdm's own turns it into seconds a
run below one run a second, so a slow start (a loaded machine, workers importing the model) changed
what the bar said."""


def progress_bar(total: int, done: int, enabled: bool = True) -> Any:
    """The sweep's progress bar on stderr: runs done of ``total``, time elapsed and left, runs a second."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="run", desc="sweep", bar_format=BAR_FORMAT,
                disable=not enabled)


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
