"""A sweep's results store: a folder that survives a crash and resumes.

``manifest.json`` holds the spec, its hash, package versions and the number of runs;
``summary/part-<first run>.parquet`` one row per run (``summarise``: each measure's final value
and its average over the run) and, with ``keep_steps``, ``steps/part-<first run>.parquet`` the
per-month tables with a ``run`` column. Every part is written atomically, the per-month part
first, so a summary part means a whole batch. A part that cannot be read whole (a disk fault, a
copy cut short) is found on resuming and removed with its twin, so that its runs are run again.

One sweep at a time writes a store: it holds ``.lock`` (``store_lock``) from start to end.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


log = logging.getLogger(__name__)

LOCK = ".lock"
"""The file in a store that a running sweep holds locked (``store_lock``)."""
KINDS = ("summary", "steps")
"""A store's two kinds of part, in folders of those names; a batch's two parts share a name."""

_held: set[Path] = set()  # the stores this process holds (store_lock is reentrant)


@contextmanager
def store_lock(store: str | Path) -> Iterator[None]:
    """Hold ``store`` for the block: an exclusive ``fcntl.flock`` on ``store/.lock``, so that two
    sweeps never write one store at once.

    The operating system releases the lock when the process ends, however it ends, so the store
    of a killed sweep can be resumed at once: there is no stale lock to clear. Reentrant within a
    process (``commsim sensitivity`` holds its store across the sweep and the swap of its folder).

    Raises:
        ScenarioError: the store is a file, or another process holds it (the store is untouched).
    """
    store = Path(store)
    if store.exists() and not store.is_dir():
        raise ScenarioError(f"{store}: exists and is not a folder")
    key = store.resolve()
    if key in _held:
        yield
        return
    store.mkdir(parents=True, exist_ok=True)
    with open(store / LOCK, "a") as handle:  # append: made if need be, never truncated
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioError(f"{store}: in use by another sweep (it holds {store / LOCK}); let it "
                                "finish or stop it, or give another --out") from None
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)  # closing the file releases the lock


def parts(store: Path, kind: str = "summary") -> list[Path]:
    """A store's parts of one kind (``summary`` or ``steps``), in order."""
    return sorted((Path(store) / kind).glob("part-*.parquet"))


def read_part(part: Path) -> pa.Table | str:
    """A part read whole (every column and page, so that damage anywhere shows), or why it cannot be."""
    try:
        table = pq.read_table(part)
    except (pa.ArrowException, OSError) as err:  # truncated: ArrowInvalid; garbled pages: OSError
        why = str(err).removeprefix(f"Could not open Parquet input source '{part}': ")  # named already
        return f"{type(err).__name__}: {why.splitlines()[0] if why else 'unreadable'}"
    return table if "run" in table.column_names else "it has no run column"


def damaged_parts(store: Path) -> dict[Path, str]:
    """Every part of the store that cannot be read whole, with why."""
    found = {}
    for kind in KINDS:
        for part in parts(store, kind):
            why = read_part(part)
            if isinstance(why, str):
                found[part] = why
    return found


def done_runs(store: Path) -> set[int]:
    """Run indices already in the store's summary parts (each part is read whole)."""
    found: set[int] = set()
    for part in parts(store):
        table = read_part(part)
        if isinstance(table, str):
            raise ScenarioError(damage_message(store, part, table))
        found.update(table.column("run").to_pylist())
    return found


def damage_message(store: Path, part: Path, why: str) -> str:
    return (f"{part}: a damaged part of the store ({why}); `commsim sweep SPEC --out {store} --resume` "
            "removes it and runs its runs again")


def read_store(store: str | Path) -> tuple[SweepSpec, pd.DataFrame]:
    """A store's spec (from its manifest) and its summary rows, one per run, in run order.

    Raises:
        ScenarioError: the folder is not a sweep store, holds no runs yet, or has a damaged part.
    """
    store = Path(store)
    manifest = store / "manifest.json"
    if not manifest.is_file():
        raise ScenarioError(f"{store}: not a sweep store (no manifest.json); make one with commsim sweep")
    try:
        spec = SweepSpec.model_validate(json.loads(manifest.read_text())["spec"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as err:
        raise ScenarioError(f"{manifest}: unreadable: {type(err).__name__}") from None
    if not parts(store):
        raise ScenarioError(f"{store}: no runs in the store yet (summary/ has no parts)")
    done_runs(store)  # every part read whole first: a damaged one is named, not a traceback
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
    """Check the store against the spec, write the manifest; return the runs already done.

    The caller holds the store (``store_lock``). Resuming drops what an interrupted sweep left
    unfinished and every damaged part (logging each), so that their runs are run again.
    """
    store = Path(store)
    manifest = store / "manifest.json"
    if store.exists() and not store.is_dir():
        raise ScenarioError(f"{store}: exists and is not a folder")
    nonempty = store.is_dir() and any(p.name != LOCK for p in store.iterdir())
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
        drop_unfinished(store)
        return done_runs(store)
    write_atomic_json({"spec": spec.model_dump(mode="json"), "hash": spec.digest(),
                       "versions": versions(), "n_runs": n_runs}, manifest)
    return set()


def drop_unfinished(store: Path) -> None:
    """Remove what does not make a whole batch: damaged parts with their twins, per-month parts
    whose summary part never landed, and the temporary files of writes a killed sweep left.
    """
    for part, why in damaged_parts(store).items():
        for twin in (store / kind / part.name for kind in KINDS):
            twin.unlink(missing_ok=True)
        log.warning("%s: damaged (%s); removed with the rest of its batch, whose runs are run again",
                    part, why)
    summaries = {p.name for p in parts(store)}
    for part in parts(store, "steps"):
        if part.name not in summaries:
            part.unlink()
    for tmp in [*store.glob(".manifest.json-*.tmp"), *store.glob("*/.part-*.parquet-*.tmp")]:
        tmp.unlink()


def write_batch(store: Path, summary: pd.DataFrame, steps: pd.DataFrame | None) -> None:
    """Write one batch's parts: the per-month part first, so a summary part means a whole batch."""
    name = f"part-{int(summary['run'].min()):08d}.parquet"
    if steps is not None:
        write_atomic_parquet(steps, Path(store) / "steps" / name)
    write_atomic_parquet(summary, Path(store) / "summary" / name)
