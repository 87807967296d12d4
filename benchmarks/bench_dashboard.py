"""Server-side cost of a dashboard step: stepping both regimes, then repainting each view and
making its PNG, as the page does after every press of Step (the browser test measures the whole
step to plot, including Solara and the browser).

Usage: .venv/bin/python benchmarks/bench_dashboard.py [--months N] [--repeats N]
Prints, per view, the median and fastest milliseconds over N steps from month N on.
"""

import argparse
import io
import statistics
import time

from sim.dashboard import views
from sim.dashboard.pair import Pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=24, help="months run before timing")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    pair = Pair()
    for _ in range(args.months):
        pair.step()
    print(f"{'view':<20} {'median ms':>10} {'fastest':>8}")
    for view in views.VIEWS:
        canvas = views.Canvas(view, len(pair.runs))
        canvas.paint(pair).savefig(io.BytesIO(), format="png")  # warm-up: fonts, first draw
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            pair.step()
            canvas.paint(pair).savefig(io.BytesIO(), format="png")
            times.append(1000 * (time.perf_counter() - start))
        print(f"{view.title:<20} {statistics.median(times):>10.0f} {min(times):>8.0f}")


if __name__ == "__main__":
    main()
