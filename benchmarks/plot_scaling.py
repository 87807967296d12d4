"""Log-log figure of wall time against citizens, from bench_scaling.py --json files.

Usage:
    .venv/bin/python benchmarks/plot_scaling.py after.json [--before before.json] [--out docs/scaling.png]
Mesa's trivial agents are drawn at the same number of steps as the model (their cost per agent-step,
times agents, times the model's steps).
"""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path: str) -> list[dict]:
    with open(path) as f:
        return sorted(json.load(f), key=lambda r: r["n"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("after")
    parser.add_argument("--before")
    parser.add_argument("--out", default="docs/scaling.png")
    args = parser.parse_args()
    after = load(args.after)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    n = [r["n"] for r in after]
    ax.plot(n, [r["wall"] for r in after], "o-", color="C0", label="commsim (this branch)")
    if args.before:
        before = load(args.before)
        ax.plot([r["n"] for r in before], [r["wall"] for r in before], "s--", color="C3",
                label="commsim before (main at 3b6a7b6)")
    mesa = [r for r in after if "mesa_us_per_agent_step" in r]
    if mesa:
        mesa_wall = [r["mesa_us_per_agent_step"] * 1e-6 * r["n"] * r["steps"] for r in mesa]
        ax.plot([r["n"] for r in mesa], mesa_wall, "^:", color="C2",
                label="Mesa: trivial agents, shuffle_do (same steps)")
    lo, hi = min(n), max(n)
    ref = next((r for r in after if r["n"] == 100_000), after[0])  # the scaling target's reference
    per = ref["wall"] / ref["n"]
    ax.plot([lo, hi], [per * lo, per * hi], color="0.7", lw=0.8,
            label=f"linear through {ref['n']:,} citizens")
    ax.axhline(60, color="0.5", ls="-.", lw=0.8)
    ax.text(lo, 62, "60 s target at 10^6", fontsize=8, color="0.4", va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("citizens (providers = citizens / 1000)")
    ax.set_ylabel(f"wall time of {after[0]['steps']} monthly steps (s)")
    ax.set_title("Run time against population size (2-core machine, one process)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
