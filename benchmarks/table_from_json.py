"""The Markdown table of docs/performance.md from bench_scaling.py --json files (before and after).

Usage:
    .venv/bin/python benchmarks/table_from_json.py benchmarks/results/before.json \
        benchmarks/results/after.json
"""

import json
import sys


def rows(path: str) -> dict[int, dict]:
    with open(path) as f:
        return {r["n"]: r for r in json.load(f)}


def main() -> None:
    before, after = rows(sys.argv[1]), rows(sys.argv[2])
    print("| citizens | providers | wall s before | wall s after | citizen-steps/s after | peak MB after "
          "| DataCollector.collect after (before) | measure() after | Mesa trivial, us/agent-step "
          "| ratio after (before) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted(after):
        a, b = after[n], before.get(n, {})
        wall_b = f"{b['wall']:.2f}" if b else "-"
        ratio_b = f" ({b['ratio']:.2f})" if "ratio" in b else ""
        collect_b = f" ({100 * b['collect_share']:.1f}%)" if b else ""
        mesa = f"{a['mesa_us_per_agent_step']:.2f}" if "mesa_us_per_agent_step" in a else "-"
        ratio = f"{a['ratio']:.2f}" if "ratio" in a else "-"
        print(f"| {n:,} | {a['providers']:,} | {wall_b} | {a['wall']:.2f} | {a['per_second'] / 1e6:.2f} M "
              f"| {a['maxrss_mb']:.0f} | {100 * a['collect_share']:.1f}%{collect_b} "
              f"| {100 * a['measure_share']:.1f}% | {mesa} | {ratio}{ratio_b} |")
    ns = sorted(n for n in after if n in (100_000, 1_000_000))
    if len(ns) == 2:
        for label, rs in (("after", after), ("before", before)):
            if all(n in rs for n in ns):
                r = rs[ns[1]]["us_per_citizen_step"] / rs[ns[0]]["us_per_citizen_step"]
                print(f"\ncost per citizen-step at 10^6 / at 10^5, {label}: {r:.2f}")


if __name__ == "__main__":
    main()
