"""The golden results: saved runs that say when the model's results change.

Every regime preset on the default context, and both poles (target-driven and learning-oriented)
on each of the four other contexts, 36 months at the default size, each with its own fixed seed.
For each run two tables are saved as Parquet: the per-month measures (``model.results()``) and the
per-provider table of Mesa's DataCollector.

``tests/test_golden.py`` reruns them and compares with ``check_exact=True``: a refactor must leave
them bit-identical. A change to a mechanism that moves results regenerates them on purpose, in the
same commit, and says why in the commit message:

    .venv/bin/python tests/golden/make_golden.py          # rewrite tests/golden/*.parquet
    .venv/bin/python tests/golden/make_golden.py --check  # compare only (what the test does)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sim import CommissioningModel, load
from sim.providers import Provider

HERE = Path(__file__).resolve().parent
MONTHS = 36
REGIMES = ["target_driven", "learning_oriented", "context_led", "hybrid_outcomes_learning",
           "hybrid_targets_with_forums"]
POLES = ["target_driven", "learning_oriented"]
OTHER_CONTEXTS = ["stable_controllable", "stable_uncontrollable", "complex_controllable",
                  "complex_uncontrollable"]
# (name, presets, seed): the default context first, then the poles on the other four
CASES = [(regime, (regime,), seed) for seed, regime in enumerate(REGIMES, start=101)] + [
    (f"{regime}+{context}", (regime, context), seed)
    for seed, (regime, context) in enumerate(
        ((r, c) for c in OTHER_CONTEXTS for r in POLES), start=201)]


def tables(presets: tuple[str, ...], seed: int) -> dict[str, pd.DataFrame]:
    """One golden run: its per-month measures and its per-provider table."""
    model = CommissioningModel(scenario=load(*presets), rng=seed)
    model.run_for(MONTHS)
    providers = model.datacollector.get_agenttype_vars_dataframe(Provider).reset_index()
    return {"results": model.results(), "providers": providers}


def path(name: str, table: str) -> Path:
    return HERE / f"{name}.{table}.parquet"


def differences(name: str, presets: tuple[str, ...], seed: int) -> list[str]:
    """What differs between a rerun of one case and its saved tables (empty if nothing)."""
    found = []
    for table, frame in tables(presets, seed).items():
        saved = path(name, table)
        if not saved.is_file():
            found.append(f"{saved.name}: missing (regenerate with make_golden.py)")
            continue
        try:
            pd.testing.assert_frame_equal(frame, pd.read_parquet(saved), check_exact=True)
        except AssertionError as err:
            found.append(f"{saved.name}: {err}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the saved runs only")
    args = parser.parse_args()
    if args.check:
        found = [d for name, presets, seed in CASES for d in differences(name, presets, seed)]
        print("\n".join(found) or f"all {len(CASES)} golden runs identical")
        return 1 if found else 0
    for name, presets, seed in CASES:
        for table, frame in tables(presets, seed).items():
            frame.to_parquet(path(name, table), index=False)
        print(f"wrote {name} (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
