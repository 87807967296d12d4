"""Profile one scaled run with cProfile and print the top functions by own and cumulative time.

Usage: .venv/bin/python benchmarks/profile_run.py [--n 100000] [--steps 120] [--top 25] [--capacity 75]
Same scaling as bench_scaling.py: N/1000 providers of 75 places, 250,000 GBP a month per 1,000.
"""

import argparse
import cProfile
import pstats

from bench_scaling import scaled_overrides

from sim import CommissioningModel, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--scenario", nargs="*", default=[])
    parser.add_argument("--capacity", type=int, default=75, help="places per provider")
    parser.add_argument("--out", help="save the raw profile here (for snakeviz etc.)")
    args = parser.parse_args()
    sc = load(*args.scenario)
    prof = cProfile.Profile()
    prof.enable()
    model = CommissioningModel(scenario=sc, rng=args.seed, **scaled_overrides(args.n, args.capacity))
    model.run_for(args.steps)
    model.results()
    prof.disable()
    if args.out:
        prof.dump_stats(args.out)
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
