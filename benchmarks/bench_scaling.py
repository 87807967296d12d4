"""How a run's cost grows with the number of citizens, against Mesa's own cost per agent.

For each size N the model runs with N citizens, N/1000 providers of 75 places (so places stay
about 60% of N) and a budget of 250,000 GBP a month per 1,000 citizens, everything else default,
for 120 monthly steps with data collection on. Each size runs in its own subprocess, so its peak
memory (ru_maxrss: the whole process, interpreter and imports included) is its own.

In the same run a trivial Mesa agent (an empty ``step``) is stepped N at a time with
``model.agents.shuffle_do("step")``, in a subprocess too, for ``--mesa-steps`` steps (fewer than
the model's, then scaled: its cost per agent-step does not depend on the number of steps). The
ratio column is commsim's cost per citizen-step over Mesa's cost per trivial agent-step.

Wall time is the measure; CPU time (this process, all threads) is printed beside it because these
machines are shared, and a busy neighbour inflates wall time more than CPU time.

Data collection is timed separately: ``measures.measure`` (the month's measures, computed from the
arrays) and ``DataCollector.collect`` (Mesa storing them and the per-agent reporters).

Usage:
    .venv/bin/python benchmarks/bench_scaling.py                     # 10^3, 10^4, 10^5
    .venv/bin/python benchmarks/bench_scaling.py --sizes 3 4 5 6     # add 10^6 (about a minute)
    .venv/bin/python benchmarks/bench_scaling.py --sizes 6 --json out.json
    .venv/bin/python benchmarks/bench_scaling.py --sizes 3 4 5 --repeats 3  # fastest of 3 per size
Sizes are powers of ten (or, above 100, plain numbers of citizens).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def scaled_overrides(n: int, capacity: int = 75) -> dict:
    return dict(n_citizens=n, n_providers=max(1, n // 1000), capacity=capacity,
                budget_per_month=250_000.0 * n / 1000)


def run_model(n: int, steps: int, seed: int, scenario: list[str], capacity: int = 75) -> dict:
    """One timed run in this process (call in a fresh subprocess)."""
    import mesa

    import sim.model
    from sim import CommissioningModel, load

    timers = {"measure": 0.0, "collect": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - t
        return wrapper

    sim.model.measure = timed("measure", sim.model.measure)
    mesa.DataCollector.collect = timed("collect", mesa.DataCollector.collect)
    sc = load(*scenario)
    cpu = time.process_time()
    start = time.perf_counter()
    model = CommissioningModel(scenario=sc, rng=seed, **scaled_overrides(n, capacity))
    built = time.perf_counter()
    model.run_for(steps)
    df = model.results()
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    assert len(df) == steps + 1
    return dict(n=n, steps=steps, wall=end - start, cpu=cpu, setup=built - start,
                measure=timers["measure"], collect=timers["collect"],
                citizens_mean=float(df["citizens"].mean()),
                maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_mesa_trivial(n: int, steps: int) -> dict:
    """Mesa's own cost: N trivial agents stepped with shuffle_do (call in a fresh subprocess)."""
    import mesa

    class Trivial(mesa.Agent):
        def step(self) -> None:
            pass

    model = mesa.Model(rng=0)
    Trivial.create_agents(model, n)
    start = time.perf_counter()
    for _ in range(steps):
        model.agents.shuffle_do("step")
    wall = time.perf_counter() - start
    return dict(n=n, steps=steps, wall=wall,
                maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def in_subprocess(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def size_of(text: str) -> int:
    v = float(text)
    return int(10**v) if v <= 100 else int(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["3", "4", "5"],
                        help="powers of ten (3 = 1,000 citizens) or numbers of citizens")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--mesa-steps", type=int, default=10,
                        help="steps for the trivial Mesa agents (cost is scaled per agent-step)")
    parser.add_argument("--no-mesa", action="store_true", help="skip the trivial-agent comparison")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per size (each in a fresh process); the fastest is reported")
    parser.add_argument("--scenario", nargs="*", default=[], help="preset and/or context names")
    parser.add_argument("--capacity", type=int, default=75,
                        help="places per provider (75: places are 7.5%% of N; 600: 60%%, as by default)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--worker", choices=["model", "mesa"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "model":
        print(json.dumps(run_model(args.n, args.steps, args.seed, args.scenario, args.capacity)))
        return
    if args.worker == "mesa":
        print(json.dumps(run_mesa_trivial(args.n, args.mesa_steps)))
        return

    sizes = [size_of(s) for s in args.sizes]
    name = "+".join(args.scenario) or "defaults"
    print(f"scenario {name}, {args.steps} steps, seed {args.seed}; "
          f"providers = N/1000 x {args.capacity} places, "
          f"budget 250,000 GBP per 1,000 citizens; Mesa trivial agents: {args.mesa_steps} steps")
    head = (f"{'citizens':>10} {'providers':>9} {'wall s':>8} {'cpu s':>7} {'cit-steps/s':>12} "
            f"{'us/cit-step':>11} {'peak MB':>8} {'collect %':>9} {'measure %':>9} "
            f"{'mesa us/agent-step':>18} "
            f"{'mesa MB':>8} {'ratio':>6}")
    print(head)
    print("(citizen-steps are N x steps; the mean active population is printed after each row)")
    rows = []
    for n in sizes:
        runs = [in_subprocess(["--worker", "model", "--n", str(n), "--steps", str(args.steps),
                               "--seed", str(args.seed), "--capacity", str(args.capacity),
                               "--scenario", *args.scenario])
                for _ in range(args.repeats)]
        r = min(runs, key=lambda run: run["wall"])  # the least disturbed run
        r["repeats"] = args.repeats
        r["walls"] = [run["wall"] for run in runs]
        r["providers"] = max(1, n // 1000)
        r["citizen_steps"] = n * args.steps  # nominal: N x steps (the active population varies)
        r["active_share"] = r["citizens_mean"] / n
        r["per_second"] = r["citizen_steps"] / r["wall"]
        r["us_per_citizen_step"] = 1e6 * r["wall"] / r["citizen_steps"]
        r["collect_share"] = r["collect"] / r["wall"]
        r["measure_share"] = r["measure"] / r["wall"]
        if not args.no_mesa:
            m = min((in_subprocess(["--worker", "mesa", "--n", str(n), "--mesa-steps", str(args.mesa_steps)])
                     for _ in range(args.repeats)), key=lambda run: run["wall"])
            r["mesa_us_per_agent_step"] = 1e6 * m["wall"] / (n * m["steps"])
            r["mesa_maxrss_mb"] = m["maxrss_mb"]
            r["ratio"] = r["us_per_citizen_step"] / r["mesa_us_per_agent_step"]
        mesa_part = (f"{r['mesa_us_per_agent_step']:>18.3f} {r['mesa_maxrss_mb']:>8.0f} {r['ratio']:>6.2f}"
                     if "ratio" in r else f"{'-':>18} {'-':>8} {'-':>6}")
        print(f"{n:>10,} {r['providers']:>9,} {r['wall']:>8.2f} {r['cpu']:>7.2f} {r['per_second']:>12,.0f} "
              f"{r['us_per_citizen_step']:>11.3f} {r['maxrss_mb']:>8.0f} {100 * r['collect_share']:>8.1f}% "
              f"{100 * r['measure_share']:>8.1f}% {mesa_part}  active {r['active_share']:.0%}", flush=True)
        rows.append(r)
    for prev, r in zip(rows, rows[1:], strict=False):  # linear scaling: each ratio near 1 or below
        print(f"cost per citizen-step at {r['n']:,} / at {prev['n']:,}: "
              f"{r['us_per_citizen_step'] / prev['us_per_citizen_step']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
