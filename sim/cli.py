"""The command line (also ``python -m sim``).

``commsim run | compare | validate | sweep | sensitivity | analyse | dashboard | scenarios | fields``
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from sim.experiments.report import interval, number
from sim.measures import MEASURES
from sim.presets import load, preset_description, preset_paths
from sim.scenario import Scenario, ScenarioError, allowed, field_label, field_paths, unit


class OneLineUsageErrors(TyperGroup):
    """Click's own usage errors (a missing argument, an unknown option or command, ``--steps 0``)
    in one line on stderr with exit code 2, like every other bad input, instead of a usage box.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except typer.TyperException as error:  # click's errors (vendored by typer); standalone: a box
            context = getattr(error, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context else ""
            typer.echo(f"commsim: error: {error.format_message()}{hint}", err=True)
            sys.exit(error.exit_code)
        except typer.Abort:  # Ctrl-C at a prompt: as click says it
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)  # typer.Exit's code, or 0


app = typer.Typer(cls=OneLineUsageErrors, add_completion=False, pretty_exceptions_enable=False,
                  help="Simulate how public services are commissioned under different "
                       "accountability regimes.")
console = Console()
console.width = max(console.width, 140)  # the comparison table needs room; logs have no terminal width

RUN_MEASURES = ["mean_wellbeing", "hardest_wellbeing", "commissioner_knowledge", "system_knowledge",
                "goodhart_gap", "spend", "wellbeing_per_1000"]

SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a field: FIELD=VALUE, e.g. --set context.uncertainty=0.8 (repeatable).")]
Steps = Annotated[int, typer.Option(min=1, max=100_000, help="Months to simulate.")]
Seed = Annotated[int, typer.Option(min=0, help="Base seed (one seed, one result).")]
Workers = Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: one per CPU).")]
Scheduler = Annotated[str | None, typer.Option(help="A running Dask scheduler, e.g. tcp://host:8786 "
                                                    "(instead of local workers).")]
Force = Annotated[bool, typer.Option(help="Replace the --out folder even if it holds another command's "
                                          "results or files commsim did not write.")]


class Notes(logging.Handler):
    """What the library reports as it goes (a damaged part of a sweep store, removed), one line
    each on stderr: through typer, so that it goes wherever the command's own messages go.
    """

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"commsim: {record.getMessage()}", err=True)


logging.getLogger("sim").addHandler(Notes(logging.WARNING))


def show_version(value: bool) -> None:
    if value:
        from sim import __version__

        typer.echo(f"commsim {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def commsim(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Simulate how public services are commissioned under different accountability regimes."""
    if ctx.invoked_subcommand is None:  # bare `commsim`: the help, as asked for
        typer.echo(ctx.get_help())
        raise typer.Exit()


def user_errors(command):
    """Bad input ends with one clear line on stderr and exit code 2, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ScenarioError as error:
            typer.echo(f"commsim: error: {error}", err=True)
            raise typer.Exit(2) from None
    return wrapper


def regime_label(name: str, scenario: Scenario) -> str:
    label = scenario.regime.name
    return Path(name).stem if label == "custom" else label


@app.command()
@user_errors
def run(
    scenario: Annotated[list[str], typer.Argument(
        help="Preset names or TOML files, merged in order (a regime and a context).")],
    steps: Steps = 120,
    seed: Seed = 0,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("results/run"),
    set_: SetOption = None,
    force: Force = False,
) -> None:
    """Run one scenario; write the per-month table, a summary and a figure."""
    from tqdm.auto import tqdm

    from sim.experiments.output import claim, staged, versions, write_json
    from sim.experiments.runs import run as run_model
    from sim.plots import plot_run

    sc = load(*scenario, overrides=set_ or [])
    claim(out, "run", force)
    with tqdm(total=steps, desc="run", unit="month", delay=1.0, leave=False) as bar:
        results = run_model(sc, steps, seed, on_step=lambda: bar.update())
    title = setting_title([regime_label(scenario[0], sc)], sc, set_, f"seed {seed}")
    with staged(out, "run", force) as stage:
        results.to_parquet(stage / "results.parquet", index=False)
        results.to_csv(stage / "results.csv", index=False)
        final = results.iloc[-1].to_dict()
        write_json(stage / "summary.json", {
            "command": " ".join(["commsim", *sys.argv[1:]]), "sources": scenario, "seed": seed,
            "steps": steps, "scenario": sc.summary(), "versions": versions(), "final": final})
        plot_run(results, stage / "run.png", title=title)
    console.print(f"[bold]{title}[/]: {steps} months. At month {steps}:", highlight=False)
    show_table(["measure", "unit", f"month {steps}"],
               [[MEASURES[key].label, MEASURES[key].unit, number(final[key])] for key in RUN_MEASURES],
               "")
    console.print(f"wrote {out}/results.parquet, results.csv, summary.json, run.png")


@app.command()
@user_errors
def compare(
    regimes: Annotated[list[str], typer.Argument(
        help="Two or more regimes (preset names or TOML files); the first is the baseline.")],
    context: Annotated[str | None, typer.Option(
        help="A context (preset name or TOML file) applied to every regime.")] = None,
    reps: Annotated[int, typer.Option(min=2, max=100_000, help="Replicates per regime.")] = 10,
    steps: Steps = 120,
    seed: Seed = 0,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("results/compare"),
    set_: SetOption = None,
    equal_spend: Annotated[bool, typer.Option(
        "--equal-spend", help="Scale each later regime's money (prices, fees, grant) so its mean "
                              "monthly spend is within 2% of the first regime's (or, where one "
                              "cannot spend that little, the others' to its spend).")] = False,
    baseline: Annotated[bool, typer.Option(
        "--baseline", help="Add a no-service arm on the same world and report each regime's gain "
                           "over it.")] = False,
    force: Force = False,
) -> None:
    """Compare regimes over paired replicates: levels and differences with 95% CIs, and a figure."""
    from sim.experiments.compare import compare as run_compare
    from sim.experiments.output import claim, staged, versions, write_json
    from sim.experiments.report import (
        KEY_MEASURES,
        comparison_rows,
        how_read,
        legend,
        markdown_summary,
        spend_matching,
    )
    from sim.plots import plot_comparison

    if len(regimes) < 2:
        raise ScenarioError("compare needs at least two regimes")
    scenarios = {}
    for name in regimes:
        sc = load(name, *([context] if context else []), overrides=set_ or [])
        label = regime_label(name, sc)
        if label in scenarios:
            label = f"{label}:{name}"
        scenarios[label] = sc
    claim(out, "compare", force)
    result = run_compare(scenarios, reps=reps, steps=steps, seed=seed, equal_spend=equal_spend,
                         baseline=baseline)
    levels, differences = result.levels(), result.differences()
    names = list(pd.unique(result.runs["regime"]))
    measures = [m for m in KEY_MEASURES if m in set(levels["measure"])]
    with staged(out, "compare", force) as stage:
        result.runs.to_parquet(stage / "runs.parquet", index=False)
        levels.to_csv(stage / "levels.csv", index=False)
        differences.to_csv(stage / "differences.csv", index=False)
        (stage / "summary.md").write_text(markdown_summary(levels, differences, measures, names,
                                                          reps, steps, seed, result.matches))
        write_json(stage / "summary.json", {
            "command": " ".join(["commsim", *sys.argv[1:]]), "regimes": regimes, "context": context,
            "reps": reps, "steps": steps, "seed": seed, "equal_spend": equal_spend,
            "baseline": baseline, "money_scale": {m.regime: m.scale for m in result.matches},
            "scenarios": {k: v.summary() for k, v in scenarios.items()}, "versions": versions()})
        plot_comparison(result.runs, stage / "compare.png",
                        title=setting_title(names, sc, set_, f"base seed {seed}"))
    head, rows = comparison_rows(levels, differences, measures, names, steps, reps)
    console.print(how_read(reps, steps, seed), highlight=False, soft_wrap=True)
    console.print(f"Regimes: {legend(names)}", highlight=False, soft_wrap=True)
    for line in spend_matching(result.matches):
        console.print(line, highlight=False, soft_wrap=True)
    show_table(head, rows, "")
    console.print(f"wrote {out}/runs.parquet, levels.csv, differences.csv, summary.md, "
                  "summary.json, compare.png")


def setting_title(regimes: list[str], scenario: Scenario, overrides: list[str] | None, seed: str) -> str:
    """A figure's title: the regimes, the context and every override given with --set."""
    text = f"{' vs '.join(regimes)} in the {scenario.context.name} context"
    if overrides:
        text += ", with " + ", ".join(o.replace(" ", "") for o in overrides)
    return f"{text} ({seed})"


def show_table(head: list[str], rows, title: str) -> None:
    """Print a table of already formatted cells: the console's twin of ``markdown_table``.

    Cells wrap (at spaces) rather than being cut, whatever the terminal's width.
    """
    table = Table(title=title or None)
    for name in head:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command()
@user_errors
def validate(
    reps: Annotated[int, typer.Option(min=2, max=10_000, help="Paired replicates per arm.")] = 10,
    seed: Seed = 0,
    out: Annotated[Path, typer.Option(help="Folder for the report and figures.")] = Path(
        "results/validation"),
    only: Annotated[list[str] | None, typer.Option(
        help="Run only this check (repeatable): creaming, goodhart, knowledge, contingency, "
             "multitask, pooled, competition.")] = None,
    force: Force = False,
) -> None:
    """Check the model against the published patterns; exit 1 if any finding fails."""
    from sim.experiments.output import claim, staged
    from sim.experiments.validation import CHECKS, plot_check, report, slug
    from sim.experiments.validation import validate as run_checks

    unknown = sorted(set(only or []) - set(CHECKS))
    if unknown:
        raise ScenarioError(f"--only {unknown[0]!r}: no such check; allowed: one of "
                            f"{', '.join(CHECKS)}")
    claim(out, "validate", force)
    with console.status("validating") as status:
        checks = run_checks(reps, seed, only, on_check=lambda name: status.update(f"validating: {name}"))
    with staged(out, "validate", force) as stage:
        for check in checks:
            plot_check(check, stage / f"{slug(check.name)}.png")
        (stage / "report.md").write_text(report(checks, reps, seed))
    table = Table("check", "what the literature says (source)", "finding", "effect [95% CI]",
                  "verdict", title=f"Validation: {reps} paired replicates per arm, seed {seed}")
    for check in checks:
        for i, f in enumerate(check.findings):
            table.add_row(check.name if i == 0 else "",
                          f"{check.literature} ({check.source})" if i == 0 else "", f.claim,
                          f.effect(), ("pass" if f.passed else "FAIL")
                          + (" (consistency check)" if f.consistency else ""))
    console.print(table)
    for check in checks:
        if check.table is not None:
            show_table(list(check.table.columns), check.table.to_numpy().tolist(), check.name)
    console.print(f"wrote {out}/report.md and one figure per check")
    if not all(check.passed for check in checks):
        raise typer.Exit(1)


@app.command()
@user_errors
def sweep(
    spec: Annotated[Path, typer.Argument(help="A sweep specification (TOML), e.g. "
                                              "scenarios/sweeps/ebrahim_grid.toml.")],
    out: Annotated[Path, typer.Option(help="Folder of the results store.")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    resume: Annotated[bool, typer.Option(help="Continue a store made by the same spec.")] = False,
) -> None:
    """Run a parameter sweep on Dask; write a Parquet store of per-run summaries."""
    from sim.experiments.sweep import load_spec, run_sweep

    one_cluster(workers, scheduler)
    parsed = load_spec(spec)
    show_counts(run_sweep(parsed, out, workers=workers, scheduler=scheduler, resume=resume), out)


def one_cluster(workers: int | None, scheduler: str | None) -> None:
    if workers is not None and scheduler:
        raise ScenarioError("give --workers or --scheduler, not both")


def show_counts(counts: dict[str, int], store: Path) -> None:
    console.print(f"{counts['runs']} runs: {counts['skipped']} already done, {counts['ok']} ok, "
                  f"{counts['failed']} failed; store {store}", highlight=False)


KEEP_STORE = ("store",)  # sensitivity's resumable sweep store lives in its folder, across reruns
Measures = Annotated[list[str] | None, typer.Option(
    "--measure", help="A summary column to analyse, e.g. mean_mean_wellbeing or "
                      "final_commissioner_knowledge (repeatable; default: wellbeing, commissioner "
                      "knowledge, gaming and wellbeing per GBP 1,000).")]


@app.command()
@user_errors
def sensitivity(
    spec: Annotated[Path, typer.Argument(help="A sweep specification with design sobol or morris, e.g. "
                                              "scenarios/sweeps/levers_sensitivity.toml.")],
    out: Annotated[Path, typer.Option(help="Folder for the store (OUT/store) and the indices.")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    measure: Measures = None,
    force: Force = False,
) -> None:
    """Sobol or Morris sensitivity: run the sweep (or continue it) into OUT/store, then SALib's indices."""
    from sim.experiments import sensitivity as sa
    from sim.experiments.output import claim, staged
    from sim.experiments.sweep import (
        base_scenarios,
        choose_measures,
        load_spec,
        measure_columns,
        read_store,
        run_sweep,
        store_lock,
    )
    from sim.plots import plot_sensitivity

    one_cluster(workers, scheduler)
    parsed = load_spec(spec)
    sa.check_design(parsed, spec)
    measures = choose_measures(measure, measure_columns(base_scenarios(parsed)))
    claim(out, "sensitivity", force, keep=KEEP_STORE)
    store = out / "store"
    with store_lock(store):  # held across the sweep and the swap, which moves the store
        counts = run_sweep(parsed, store, workers=workers, scheduler=scheduler, resume=True)
        show_counts(counts, store)
        _, summary = read_store(store)
        table = sa.indices(parsed, summary, measures)
        with staged(out, "sensitivity", force, keep=KEEP_STORE) as stage:
            table.to_csv(stage / "indices.csv", index=False)
            (stage / "indices.md").write_text(sa.markdown(table, parsed, counts["runs"]))
            plot_sensitivity(table, parsed.sweep.design, stage / "sensitivity.png")
    head = [c for c in table.columns if not c.endswith("_conf")]
    show_table(head, ([sa.cell(row, c) for c in head] for _, row in table.iterrows()),
               f"{parsed.sweep.design} indices; +- half-width of SALib's 95% bootstrap interval "
               "(replicates averaged per design point)")
    if warning := sa.too_uncertain(table, parsed.sweep.design):
        typer.echo(f"commsim: warning: {warning}", err=True)
    console.print(f"wrote {out}/indices.csv, indices.md, sensitivity.png")


@app.command()
@user_errors
def analyse(
    store: Annotated[Path, typer.Argument(help="A sweep store (the --out of commsim sweep).")],
    out: Annotated[Path | None, typer.Option(help="Folder for the figures and tables "
                                             "(default: STORE/analysis).")] = None,
    measure: Measures = None,
    force: Force = False,
) -> None:
    """The standard figures of a full-factorial store: heatmaps over two parameters, lines over one."""
    from sim.experiments.analysis import analyse as analyse_grid
    from sim.experiments.output import claim, staged
    from sim.experiments.sweep import choose_measures, read_store
    from sim.plots import plot_grid_differences, plot_grid_means, plot_lines, summary_label

    spec, summary = read_store(store)
    measures = choose_measures(measure, [c for c in summary.columns if c.startswith(("final_", "mean_"))])
    out = out or store / "analysis"
    if store.resolve().is_relative_to(out.resolve()):
        raise ScenarioError(f"--out {out}: holds the store being analysed; give another --out")
    claim(out, "analyse", force)
    found = analyse_grid(spec, summary, measures)
    with staged(out, "analyse", force) as stage:
        found.cells.to_csv(stage / "cells.csv", index=False)
        written = ["cells.csv"]
        if found.differences is not None:
            found.differences.to_csv(stage / "differences.csv", index=False)
            written.append("differences.csv")
        if len(found.factors) == 2:
            plot_grid_means(found.cells, found.factors, stage / "means.png")
            written.append("means.png")
            if found.differences is not None:
                plot_grid_differences(found.differences, found.factors, stage / "differences.png")
                written.append("differences.png")
        else:
            plot_lines(found.cells, found.factors[0], stage / "lines.png")
            written.append("lines.png")
    if found.failed:
        console.print(f"left out {found.failed} failed runs", style="yellow")
    if found.differences is not None:
        paired = bool(found.differences["paired"].all())
        kind, how = (("95% CI", "paired by replicate: common random numbers") if paired
                     else ("95% Welch CI", "unpaired: every run has its own seed"))
        show_table(["regime", *(field_label(f) for f in found.factors), "measure", f"difference [{kind}]",
                    "runs"],
                   ([row["regime"], *(str(row[f]) for f in found.factors), summary_label(row["measure"]),
                     interval(row["difference"], row["ci_low"], row["ci_high"], signed=True),
                     f"{row['n']} vs {row['n_baseline']}"] for _, row in found.differences.iterrows()),
                   f"Each regime minus {found.regimes[0]}, cell by cell ({how})")
    console.print(f"wrote {out}/{', '.join(written)}")


@app.command()
@user_errors
def dashboard(
    regime: Annotated[str, typer.Argument(
        metavar="REGIME", help="The regime whose levers the page opens on (a preset or TOML "
                               "file), shown against target_driven.")] = "learning_oriented",
    context: Annotated[str, typer.Argument(
        metavar="CONTEXT", help="The context (a preset or TOML file).")] = "moderate",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to serve on; anything but 127.0.0.1 lets other "
                                           "machines in, and the page has no authentication.")]
        = "127.0.0.1",
) -> None:
    """Serve the browser dashboard (offline): turn the seven levers, watch two regimes diverge."""
    from sim.dashboard.serve import serve

    serve(regime, context, host=host, port=port)


@app.command()
def scenarios() -> None:
    """List the preset regimes and contexts, one line each."""
    presets = preset_paths()
    for kind, test in (("Regimes", lambda n: "/" not in n), ("Contexts", lambda n: "/" in n)):
        console.print(f"[bold]{kind}[/]")
        for name, path in presets.items():
            if test(name):
                console.print(f"  {name.split('/')[-1]:<28} {preset_description(path)}",
                              highlight=False, soft_wrap=True)


@app.command()
def fields() -> None:
    """List every scenario field: default, unit, allowed values and meaning."""
    defaults = Scenario().summary()
    for path, info in field_paths().items():
        value = defaults
        for part in path.split("."):
            value = value[part]
        u = unit(info)
        console.print(f"{path} = {value!r}{f' ({u})' if u else ''}; {allowed(info)}",
                      highlight=False, markup=False, style="bold", soft_wrap=True)
        console.print(f"    {info.description}", highlight=False, markup=False, soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
