"""Wall time of one default run: 1,000 citizens, 8 providers, 120 monthly steps, data collection on.

Usage: .venv/bin/python benchmarks/bench_default_run.py [--repeats N] [--scenario NAME]
Prints the median and best of N timed runs (after one warm-up run) and the time per step.
"""

import argparse
import statistics
import time

from sim import CommissioningModel, load


def time_run(scenario, seed: int, steps: int) -> float:
    start = time.perf_counter()
    model = CommissioningModel(scenario=scenario, rng=seed)
    model.run_for(steps)
    model.results()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--scenario", nargs="*", default=[])
    args = parser.parse_args()
    scenario = load(*args.scenario)
    time_run(scenario, 0, args.steps)  # warm-up: imports, caches
    times = [time_run(scenario, seed, args.steps) for seed in range(1, args.repeats + 1)]
    name = "+".join(args.scenario) or "defaults"
    print(f"scenario: {name}; {scenario.population.n_citizens} citizens, "
          f"{scenario.providers.n_providers} providers, {args.steps} steps, {args.repeats} runs")
    print(f"median wall time per run: {statistics.median(times):.3f} s "
          f"(best {min(times):.3f} s, worst {max(times):.3f} s)")
    print(f"per step: {1000 * statistics.median(times) / args.steps:.2f} ms")


if __name__ == "__main__":
    main()
