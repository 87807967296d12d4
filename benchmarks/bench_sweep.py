"""Sweep throughput: runs per second with 1 and 2 local Dask workers, and the scaling efficiency.

The sweep is the default scenario (1,000 citizens, 8 providers) over four levels of uncertainty,
120 months a run, with batches sized by the sweep itself from its first runs' cost. For each
number of workers, the LocalCluster that ``run_sweep`` would start (``sweep.local_cluster``) is
started and warmed up (a sweep of one short run per worker, so the workers have imported the
model), then ``run_sweep`` is timed on it through its scheduler address: connecting, checking the
store, the first timed runs, every batch and writing every part, but not starting the cluster,
which is timed apart. The client (this process) runs beside the workers on the same cores.

Each number of workers is timed ``--repeats`` times, alternating, and the best rate of each is
kept. Scaling efficiency = (best rate with 2 workers / best rate with 1) / 2. For reference, the
same scenario is run in a plain loop in this process (``runs.run``): what one worker would do
with no Dask and no store.

Usage:
    .venv/bin/python benchmarks/bench_sweep.py                          # 160 runs, ~4 minutes
    .venv/bin/python benchmarks/bench_sweep.py --runs 80 --repeats 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from sim.experiments import runs
from sim.experiments import sweep as sw
from sim.experiments.output import versions

LEVELS = [0.2, 0.4, 0.6, 0.8]


def spec_for(n_runs: int, steps: int) -> sw.SweepSpec:
    replicates = max(1, n_runs // len(LEVELS))
    return sw.parse_spec({"sweep": {"steps": steps, "replicates": replicates, "seed": 1},
                          "parameters": {"uncertainty": {"levels": LEVELS}}})


def time_sweep(spec: sw.SweepSpec, workers: int, folder: Path) -> dict:
    folder.mkdir(exist_ok=True)
    start = time.perf_counter()
    with sw.local_cluster(workers) as cluster:  # the cluster run_sweep would start
        address = cluster.scheduler_address
        warm = sw.parse_spec({"sweep": {"steps": 1, "replicates": workers},
                              "parameters": {"uncertainty": {"levels": [0.5]}}})
        sw.run_sweep(warm, folder / f"warm-{workers}", scheduler=address, progress=False)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        counts = sw.run_sweep(spec, folder / f"sweep-{workers}", scheduler=address, progress=False)
        seconds = time.perf_counter() - start
    parts = len(list((folder / f"sweep-{workers}" / "summary").glob("part-*.parquet")))
    assert counts["ok"] == counts["runs"], counts
    return {"workers": workers, "runs": counts["runs"], "seconds": seconds,
            "runs_per_s": counts["runs"] / seconds, "parts": parts, "startup_and_warmup_s": startup}


def time_serial(spec: sw.SweepSpec, n: int) -> dict:
    scenario = sw.base_scenarios(spec)[""]
    runs.run(scenario, spec.sweep.steps, 0)  # warm-up
    start = time.perf_counter()
    for i in range(n):
        runs.run(scenario.with_overrides({"uncertainty": LEVELS[i % len(LEVELS)]}), spec.sweep.steps,
                 sw.run_seed(spec.sweep.seed, i))
    seconds = time.perf_counter() - start
    return {"runs": n, "seconds": seconds, "runs_per_s": n / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=160, help="runs per sweep (a multiple of 4)")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--serial", type=int, default=20, help="runs of the in-process loop (0: skip)")
    parser.add_argument("--repeats", type=int, default=2, help="sweeps per number of workers (best kept)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    spec = spec_for(args.runs, args.steps)
    results: dict = {"platform": platform.platform(), "versions": versions(), "steps": args.steps}
    if args.serial:
        results["serial"] = serial = time_serial(spec, args.serial)
        print(f"in-process loop: {serial['runs']} runs in {serial['seconds']:.1f} s, "
              f"{serial['runs_per_s']:.2f} runs/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # 1 and 2 workers alternate, so a busy spell hits both
            for workers in (1, 2):
                r = time_sweep(spec, workers, Path(tmp) / str(repeat))
                results.setdefault(f"workers_{workers}", []).append(r)
                print(f"{workers} worker(s): {r['runs']} runs in {r['seconds']:.1f} s, "
                      f"{r['runs_per_s']:.2f} runs/s ({r['parts']} parts; cluster start and warm-up "
                      f"{r['startup_and_warmup_s']:.1f} s, not counted)", flush=True)
    best = {w: max(r["runs_per_s"] for r in results[f"workers_{w}"]) for w in (1, 2)}
    results["efficiency"] = best[2] / best[1] / 2
    print(f"best of {args.repeats}: {best[1]:.2f} runs/s with 1 worker, {best[2]:.2f} with 2; "
          f"scaling efficiency (rate 2 / rate 1) / 2: {100 * results['efficiency']:.0f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
