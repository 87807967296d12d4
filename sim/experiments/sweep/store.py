"""A sweep's results store: a folder that survives a crash and resumes.

``manifest.json`` holds the spec, its hash, package versions and the number of runs;
``summary/part-<first run>.parquet`` one row per run (``summarise``: each measure's final value
and its average over the run) and, with ``keep_steps``, ``steps/part-<first run>.parquet`` the
per-month tables with a ``run`` column. Every part is written atomically, the per-month part
first, so a summary part means a whole batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sim.experiments.output import atomic_write, versions
from sim.experiments.sweep.spec import SweepSpec
from sim.scenario import ScenarioError
from sim.statistics import final_and_average


def summarise(results: pd.DataFrame) -> dict[str, float]:
    """One run's numeric measures: ``final_<measure>`` and ``mean_<measure>`` over months 1..steps."""
    measures = [c for c in results.select_dtypes("number").columns if c != "month"]
    final, average = final_and_average(results.assign(run=0), measures, ["run"])
    out: dict[str, float] = {}
    for col in measures:
        out[f"final_{col}"] = float(final[col].iloc[0])
        out[f"mean_{col}"] = float(average[col].iloc[0])
    return out


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


def write_batch(store: Path, summary: pd.DataFrame, steps: pd.DataFrame | None) -> None:
    """Write one batch's parts: the per-month part first, so a summary part means a whole batch."""
    name = f"part-{int(summary['run'].min()):08d}.parquet"
    if steps is not None:
        write_atomic_parquet(steps, Path(store) / "steps" / name)
    write_atomic_parquet(summary, Path(store) / "summary" / name)
