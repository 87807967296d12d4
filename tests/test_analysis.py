"""Sensitivity indices and the standard figures of a sweep store, at tiny sizes; bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments import sensitivity as sa
from sim.experiments import sweep as sw
from sim.scenario import ScenarioError
from sim.statistics import bootstrap_ci

# Providers are never replaced or fail in a few months of a learning-oriented block grant, so the
# final number of providers is the n_providers parameter and nothing else: a known answer.
SPEC = """
[sweep]
base = ["learning_oriented", "{tiny}"]
design = "{design}"
samples = 4
replicates = {replicates}
steps = 4
seed = 5

[parameters."providers.n_providers"]
min = 1
max = 4

[parameters."context.uncertainty"]
min = 0.0
max = 1.0

[parameters."regime.context_led"]
levels = [false, true]
"""
GRID = """
[sweep]
base = ["{tiny}"]
{regimes}
replicates = 3
steps = 4
seed = 2

[parameters."context.uncertainty"]
levels = [0.1, 0.9]

[parameters."context.control"]
levels = {control}
"""
MEASURES = ["final_providers", "mean_mean_wellbeing"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # typer's exit, not an escaped exception
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1 and text.startswith("commsim: error: ")
    assert "Traceback" not in result.output
    for word in words:
        assert word in text


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("specs")
    tiny = root / "tiny.toml"
    tiny.write_text("[population]\nn_citizens = 60\n[providers]\nn_providers = 2\ncapacity = 10\n")
    paths = {}
    for design, replicates in (("sobol", 2), ("morris", 1)):
        paths[design] = root / f"{design}.toml"
        paths[design].write_text(SPEC.format(tiny=tiny, design=design, replicates=replicates))
    paths["grid"] = root / "grid.toml"
    paths["grid"].write_text(GRID.format(tiny=tiny, control="[0.3, 0.9]",
                                         regimes='regimes = ["target_driven", "learning_oriented"]'))
    paths["paired"] = root / "paired.toml"
    paths["paired"].write_text(GRID.format(
        tiny=tiny, control="[0.3, 0.9]",
        regimes='regimes = ["target_driven", "learning_oriented"]\ncommon_random_numbers = true'))
    paths["line"] = root / "line.toml"
    paths["line"].write_text(GRID.format(tiny=tiny, control="[0.6]", regimes=""))
    return paths


@pytest.fixture(scope="module")
def sobol_out(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("sobol") / "sa"
    args = ["sensitivity", files["sobol"], "--out", out, "--workers", 1,
            *[a for m in MEASURES for a in ("--measure", m)]]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return out, args, result.output


@pytest.fixture(scope="module")
def grid_store(files, tmp_path_factory):
    store = tmp_path_factory.mktemp("grid") / "store"
    sw.run_sweep(sw.load_spec(files["grid"]), store, workers=1, progress=False)
    return store


# --- sensitivity -------------------------------------------------------------------------------------

def test_sobol_indices_with_intervals_for_every_parameter(sobol_out, files):
    out, _, output = sobol_out
    table = pd.read_csv(out / "indices.csv")
    spec = sw.load_spec(files["sobol"])
    assert len(table) == len(MEASURES) * 3
    assert set(table["parameter"]) == set(spec.parameters) and set(table["measure"]) == set(MEASURES)
    assert table[["S1", "S1_conf", "ST", "ST_conf"]].notna().all().all()
    assert "95% bootstrap" in (out / "indices.md").read_text() and "averaged" in output
    assert (out / "sensitivity.png").stat().st_size > 10_000
    assert len(pd.read_parquet(out / "store" / "summary")) == 4 * (2 * 3 + 2) * 2


def test_sobol_known_answer_only_n_providers_moves_the_provider_count(sobol_out):
    table = pd.read_csv(sobol_out[0] / "indices.csv").set_index(["measure", "parameter"])
    providers = table.loc["final_providers"]
    assert providers.loc["providers.n_providers", "ST"] > 0.5
    others = providers.drop(index="providers.n_providers")
    assert (others[["S1", "ST"]] == 0).all().all()  # any mix-up of the sample order breaks this


def test_the_store_holds_the_sample_the_analysis_uses(sobol_out, files):
    spec = sw.load_spec(files["sobol"])
    summary = pd.read_parquet(sobol_out[0] / "store" / "summary").sort_values("run")
    points = sw.design_points(spec)
    for _, row in summary.iterrows():
        assert {name: row[name] for name in spec.parameters} == points[row["point"]]
    means = sa.point_means(spec, summary, MEASURES)
    expected = summary.groupby("point")[MEASURES].mean()  # replicates averaged per design point
    np.testing.assert_array_equal(means.to_numpy(), expected.to_numpy())


def test_sensitivity_resumes_its_store(sobol_out):
    out, args, _ = sobol_out
    before = pd.read_csv(out / "indices.csv")
    again = invoke(*args)
    assert again.exit_code == 0 and "64 already done" in again.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "indices.csv"), before)


@pytest.fixture(scope="module")
def morris_out(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("morris") / "sa"
    result = invoke("sensitivity", files["morris"], "--out", out, "--workers", 1,
                    *[a for m in MEASURES for a in ("--measure", m)])
    assert result.exit_code == 0, result.output
    return out


def test_sensitivity_repairs_a_damaged_part_of_its_store(sobol_out, tmp_path):
    import shutil

    out, args, _ = sobol_out
    copy = tmp_path / "sa"
    shutil.copytree(out, copy)
    part = sorted((copy / "store" / "summary").glob("part-*.parquet"))[3]
    part.write_bytes(part.read_bytes()[:100])
    result = invoke(*[copy if a == out else a for a in args])
    assert result.exit_code == 0, result.output
    [note] = [line for line in result.stderr.splitlines() if "damaged" in line]
    assert note.startswith(f"commsim: {part}: damaged (") and note.endswith("whose runs are run again")
    pd.testing.assert_frame_equal(pd.read_csv(copy / "indices.csv"), pd.read_csv(out / "indices.csv"))


def test_morris_mu_star_with_intervals(morris_out):
    out = morris_out
    table = pd.read_csv(out / "indices.csv").set_index(["measure", "parameter"])
    assert table[["mu_star", "mu_star_conf", "sigma"]].notna().all().all() and len(table) == 6
    providers = table.loc["final_providers"]
    # a step of 2/3 of the range moves n_providers by 2: every elementary effect is 3
    assert providers.loc["providers.n_providers", "mu_star"] == pytest.approx(3.0)
    assert (providers.drop(index="providers.n_providers")["mu_star"] == 0).all()
    assert (out / "sensitivity.png").is_file() and "mu*" in (out / "indices.md").read_text()


def with_seed(spec, seed):
    return spec.model_copy(update={"sweep": spec.sweep.model_copy(update={"seed": seed})})


def assert_reproducible(spec, summary, design):
    first, again = sa.indices(spec, summary, MEASURES), sa.indices(spec, summary, MEASURES)
    pd.testing.assert_frame_equal(first, again)
    assert first[sa.INTERVALS[design]].notna().all().all()


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_sobol_intervals_follow_from_the_seed_even_when_it_is_zero(sobol_out, files, seed):
    """SALib seeds its Sobol bootstrap only ``if seed:``: the seed 0 was no seed at all. (Sobol's
    estimator reads only the outputs, so the store's runs serve any seed here.)
    """
    summary = pd.read_parquet(sobol_out[0] / "store" / "summary")
    assert_reproducible(with_seed(sw.load_spec(files["sobol"]), seed), summary, "sobol")


def test_morris_intervals_follow_from_the_seed(morris_out, files):
    summary = pd.read_parquet(morris_out / "store" / "summary")
    assert_reproducible(sw.load_spec(files["morris"]), summary, "morris")


def test_the_bootstrap_seed_is_never_falsy_and_is_no_runs_seed(files):
    for seed in (0, 5):
        chosen = sa.bootstrap_seed(with_seed(sw.load_spec(files["sobol"]), seed))
        assert chosen and chosen.entropy == seed and chosen.spawn_key == ()
        runs = [sw.run_seed(seed, i).generate_state(4) for i in range(9)]
        assert all((chosen.generate_state(4) != state).any() for state in runs)


def indices_table(design, **columns):
    """A table of indices of two parameters of one measure, as ``sa.indices`` makes them."""
    return pd.DataFrame({"measure": ["m", "m"], "parameter": ["a", "b"], **columns})


@pytest.mark.parametrize(("design", "table", "warned"), [
    # Sobol indices span [0, 1]: a half-width above 0.25 is too wide
    ("sobol", indices_table("sobol", S1=[0.5, 0.1], S1_conf=[0.25, 0.05], ST=[0.6, 0.1], ST_conf=[0.2, 0.1]),
     False),
    ("sobol", indices_table("sobol", S1=[0.5, 0.1], S1_conf=[0.1, 0.05], ST=[0.6, 0.1], ST_conf=[0.2, 0.26]),
     True),
    ("sobol", indices_table("sobol", S1=[np.nan] * 2, S1_conf=[np.nan] * 2, ST=[np.nan] * 2,
                            ST_conf=[np.nan] * 2), False),  # a measure that never varies
    # Morris mu* spans [0, the measure's largest mu*]
    ("morris", indices_table("morris", mu_star=[4.0, 1.0], mu_star_conf=[1.0, 0.5], sigma=[1, 1], mu=[1, 1]),
     False),
    ("morris", indices_table("morris", mu_star=[4.0, 1.0], mu_star_conf=[0.5, 1.01], sigma=[1, 1], mu=[1, 1]),
     True),
    ("morris", indices_table("morris", mu_star=[0.0, 0.0], mu_star_conf=[0.0, 0.0], sigma=[0, 0], mu=[0, 0]),
     False),
])
def test_a_sample_too_small_for_the_indices_is_warned_of_by_the_written_rule(design, table, warned):
    warning = sa.too_uncertain(table, design)
    assert (warning is not None) == warned
    if warned:
        assert "\n" not in warning and warning.startswith("the sample is too small for the indices of m ")


def test_the_cli_warns_in_one_line_when_the_sample_is_too_small(sobol_out):
    out, args, _ = sobol_out
    result = invoke(*args)
    assert result.exit_code == 0
    table = pd.read_csv(out / "indices.csv")
    warning = sa.too_uncertain(table, "sobol")
    assert warning is not None  # 4 base samples: the intervals are wider than the indices' range
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warned == [f"commsim: warning: {warning}"]
    assert f"**Warning**: {warning}." in (out / "indices.md").read_text()


def test_sensitivity_refuses_another_commands_folder_and_keeps_its_store(sobol_out, tmp_path):
    import shutil

    out, args, _ = sobol_out
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    (run_folder / "results.csv").write_text("mine")
    one_line_error(invoke(*[run_folder if a == out else a for a in args]),
                   f"{run_folder}: holds files commsim did not write (results.csv); --force")
    assert [p.name for p in run_folder.iterdir()] == ["results.csv"]
    copy = tmp_path / "sa"
    shutil.copytree(out, copy)
    store = {p.relative_to(copy): p.read_bytes() for p in (copy / "store").rglob("*") if p.is_file()}
    assert invoke(*[copy if a == out else a for a in args]).exit_code == 0
    assert {p.relative_to(copy): p.read_bytes() for p in (copy / "store").rglob("*") if p.is_file()} == store


def test_failed_or_missing_runs_are_refused_by_name(sobol_out, files, tmp_path):
    spec = sw.load_spec(files["sobol"])
    summary = pd.read_parquet(sobol_out[0] / "store" / "summary").sort_values("run")
    broken = summary.copy()
    broken.loc[broken["run"].isin([3, 40]), ["status", "error"]] = ["failed", "RuntimeError: boom"]
    with pytest.raises(ScenarioError, match=r"2 of 64 runs failed \(runs 3, 40; run 3: RuntimeError: boom\)"):
        sa.point_means(spec, broken, MEASURES)
    with pytest.raises(ScenarioError, match=r"63 of 64 runs \(missing runs 7\)"):
        sa.point_means(spec, summary[summary["run"] != 7], MEASURES)


def test_cli_refuses_a_store_with_a_failed_run_and_keeps_what_was_written(sobol_out, tmp_path):
    import shutil

    out, args, _ = sobol_out
    copy = tmp_path / "sa"
    shutil.copytree(out, copy)
    part = sorted((copy / "store" / "summary").glob("part-*.parquet"))[0]
    frame = pd.read_parquet(part)
    frame.loc[0, ["status", "error"]] = ["failed", "ValueError: no"]
    frame.to_parquet(part, index=False)
    before = (copy / "indices.csv").read_bytes()
    result = invoke(*[copy if a == out else a for a in args])
    one_line_error(result, "1 of 64 runs failed", "ValueError: no")
    assert (copy / "indices.csv").read_bytes() == before


def test_sensitivity_bad_input(files, tmp_path):
    out = tmp_path / "x"
    one_line_error(invoke("sensitivity", "scenarios/sweeps/ebrahim_grid.toml", "--out", out),
                   "sweep.design = 'full_factorial'", "sobol, morris")
    one_line_error(invoke("sensitivity", files["sobol"], "--out", out, "--measure", "wellbeing"),
                   "--measure 'wellbeing'", "final_<measure>", "mean_wellbeing")
    assert not out.exists()


# --- analyse -----------------------------------------------------------------------------------------

def test_analyse_grid_cell_means_heatmaps_and_csv(grid_store, tmp_path):
    out = tmp_path / "an"
    result = invoke("analyse", grid_store, "--out", out, "--measure", "mean_mean_wellbeing",
                    "--measure", "final_commissioner_knowledge")
    assert result.exit_code == 0, result.output
    assert (out / "means.png").stat().st_size > 10_000 and (out / "differences.png").is_file()
    cells = pd.read_csv(out / "cells.csv")
    summary = pd.read_parquet(grid_store / "summary")
    keys = ["regime", "context.uncertainty", "context.control"]
    assert len(cells) == 2 * 2 * 2 * 2
    for measure in ("mean_mean_wellbeing", "final_commissioner_knowledge"):
        expected = summary.groupby(keys)[measure].agg(["mean", "std", "count"])
        got = cells[cells["measure"] == measure].set_index(keys).loc[expected.index]
        np.testing.assert_allclose(got["mean"], expected["mean"], rtol=1e-12)
        # both measures are bounded: a bootstrap interval, inside the range of each cell's runs
        for key, row in got.iterrows():
            values = summary.set_index(keys).loc[key, measure].to_numpy()
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(bootstrap_ci(values)[1:])
            assert values.min() - 1e-12 <= row["ci_low"] <= row["mean"] <= row["ci_high"] \
                <= values.max() + 1e-12
        assert (got["n"] == 3).all()


def test_analyse_learning_minus_target_is_an_unpaired_welch_difference(grid_store, tmp_path):
    out = tmp_path / "an"
    result = invoke("analyse", grid_store, "--out", out, "--measure", "mean_mean_wellbeing")
    assert result.exit_code == 0 and "Welch" in result.output and "unpaired" in result.output
    diffs = pd.read_csv(out / "differences.csv")
    summary = pd.read_parquet(grid_store / "summary")
    assert set(diffs["regime"]) == {"learning_oriented"} and set(diffs["baseline"]) == {"target_driven"}
    assert len(diffs) == 4 and not diffs["paired"].any()
    for _, row in diffs.iterrows():
        cell = summary[(summary["context.uncertainty"] == row["context.uncertainty"])
                       & (summary["context.control"] == row["context.control"])]
        a = cell.loc[cell["regime"] == "learning_oriented", "mean_mean_wellbeing"].to_numpy()
        b = cell.loc[cell["regime"] == "target_driven", "mean_mean_wellbeing"].to_numpy()
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))  # Welch-Satterthwaite
        half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
        assert row["difference"] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((a.mean() - b.mean() - half,
                                                                 a.mean() - b.mean() + half), rel=1e-9)
        assert row["ci_excludes_zero"] == (row["ci_low"] > 0 or row["ci_high"] < 0)


def test_analyse_with_common_random_numbers_pairs_the_regimes_by_replicate(files, tmp_path):
    store = tmp_path / "paired"
    sw.run_sweep(sw.load_spec(files["paired"]), store, workers=1, progress=False)
    result = invoke("analyse", store, "--measure", "mean_mean_wellbeing")
    assert result.exit_code == 0 and "paired by replicate" in result.output and "Welch" not in result.output
    diffs = pd.read_csv(store / "analysis" / "differences.csv")
    summary = pd.read_parquet(store / "summary")
    assert diffs["paired"].all() and len(diffs) == 4
    for _, row in diffs.iterrows():
        cell = summary[(summary["context.uncertainty"] == row["context.uncertainty"])
                       & (summary["context.control"] == row["context.control"])]
        by_replicate = cell.pivot(index="replicate", columns="regime", values="mean_mean_wellbeing")
        paired = (by_replicate["learning_oriented"] - by_replicate["target_driven"]).to_numpy()
        half = stats.t.ppf(0.975, len(paired) - 1) * paired.std(ddof=1) / np.sqrt(len(paired))
        assert row["difference"] == pytest.approx(paired.mean(), rel=1e-12) and row["n"] == 3
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((paired.mean() - half,
                                                                 paired.mean() + half), rel=1e-9)


def test_analyse_one_parameter_draws_lines(files, tmp_path):
    store = tmp_path / "line"
    sw.run_sweep(sw.load_spec(files["line"]), store, workers=1, progress=False)
    result = invoke("analyse", store)
    assert result.exit_code == 0, result.output
    out = store / "analysis"
    assert (out / "lines.png").stat().st_size > 10_000 and not (out / "differences.csv").exists()
    cells = pd.read_csv(out / "cells.csv")
    assert "regime" not in cells and set(cells["measure"]) == set(sw.DEFAULT_MEASURES)
    summary = pd.read_parquet(store / "summary")
    expected = summary.groupby("context.uncertainty")["mean_mean_wellbeing"].mean()
    got = cells[cells["measure"] == "mean_mean_wellbeing"].set_index("context.uncertainty")["mean"]
    np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-12)


def test_analyse_bad_input(grid_store, sobol_out, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(invoke("analyse", empty), "not a sweep store")
    one_line_error(invoke("analyse", tmp_path / "nowhere"), "not a sweep store")
    out = tmp_path / "an"
    one_line_error(invoke("analyse", grid_store, "--out", out, "--measure", "final_nonsense"),
                   "--measure 'final_nonsense'", "commissioner_knowledge")
    one_line_error(invoke("analyse", sobol_out[0] / "store", "--out", out), "sobol", "commsim sensitivity")
    assert not out.exists() and not (empty / "analysis").exists()
    for holder in (grid_store, grid_store.parent):  # analysing a store into itself would replace it
        one_line_error(invoke("analyse", grid_store, "--out", holder, "--force"),
                       f"--out {holder}: holds the store being analysed")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.md").write_text("mine")
    one_line_error(invoke("analyse", grid_store, "--out", taken),
                   f"{taken}: holds files commsim did not write")
    assert [p.name for p in taken.iterdir()] == ["notes.md"]


def test_analyse_leaves_out_failed_runs(grid_store):
    from sim.experiments.analysis import analyse

    spec, summary = sw.read_store(grid_store)
    summary.loc[summary["run"] == 0, ["status", "error"]] = ["failed", "RuntimeError: boom"]
    summary.loc[summary["run"] == 0, "mean_mean_wellbeing"] = np.nan
    found = analyse(spec, summary, ["mean_mean_wellbeing"])
    assert found.failed == 1
    first = found.cells.iloc[0]  # runs 0, 1 and 2 are the first cell's replicates
    assert first["n"] == 2
    assert first["mean"] == pytest.approx(summary.loc[[1, 2], "mean_mean_wellbeing"].mean())


def test_the_levers_study_varies_one_field_per_lever():
    import re

    from sim.scenario import field_paths, resolve_field

    spec = sw.load_spec("scenarios/sweeps/levers_sensitivity.toml")
    described = [field_paths()[resolve_field(name)].description for name in spec.parameters]
    levers = sorted(int(re.match(r"Lever (\d)", text).group(1)) for text in described)
    assert levers == [1, 2, 3, 4, 5, 6, 7] and spec.sweep.design == "sobol"
    assert len(sw.expand(spec)) <= 5000 and spec.sweep.steps <= 60
