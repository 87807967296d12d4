"""Sweeps: spec validation, design sizes, seeds independent of batching, the store, resume, failures."""

import json
import math
import re
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import CHECKOUT_ENV
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments import sweep as sw
from sim.scenario import ScenarioError

TINY_TOML = """
[population]
n_citizens = 60
[providers]
n_providers = 2
capacity = 10
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return str(path)


def spec_data(tiny, **sweep):
    return {"sweep": {"base": ["target_driven", tiny], "design": "full_factorial", "replicates": 2,
                      "steps": 6, "seed": 3, "batch_size": 2, **sweep},
            "parameters": {"uncertainty": {"levels": [0.1, 0.9]}, "control": {"levels": [0.3, 0.6, 0.9]}}}


def spec_of(tiny, **sweep):
    return sw.parse_spec(spec_data(tiny, **sweep))


def read_summary(store):
    return pd.read_parquet(store / "summary").sort_values("run").reset_index(drop=True)


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["sweep"].update(colour="red"), "unknown field 'sweep.colour'"),
    (lambda d: d["sweep"].update(design="grid"), "sweep.design = 'grid'"),
    (lambda d: d["sweep"].update(replicates=0), "sweep.replicates = 0"),
    (lambda d: d["parameters"].update(nonsense={"levels": [1]}), "parameters.nonsense: unknown field"),
    (lambda d: d["parameters"].update(uncertainty={"levels": [1.5]}), "context.uncertainty = 1.5"),
    (lambda d: d["parameters"].update(uncertainty={"min": 0.1}), "both min and max"),
    (lambda d: d["parameters"].update(uncertainty={"min": 0.5, "max": 0.1}), "must be below max"),
    (lambda d: d["parameters"]["uncertainty"].update(step=1), "parameters.uncertainty.step"),
    (lambda d: d["parameters"].update(uncertainty={"min": 0.1, "max": 0.9}), "full_factorial needs levels"),
    (lambda d: d["sweep"].update(base=["no_such_preset"]), "no_such_preset: no such file or preset"),
])
def test_bad_specs_fail_with_one_line_naming_the_field(tiny, change, message):
    data = spec_data(tiny)
    change(data)
    with pytest.raises(ScenarioError, match=None) as err:
        sw.parse_spec(data, source="s.toml")
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("s.toml: ")


def test_every_problem_in_a_spec_is_reported_at_once_on_one_line(tiny):
    data = spec_data(tiny, replicats=2, steps=0)
    with pytest.raises(ScenarioError) as err:
        sw.parse_spec(data, source="s.toml")
    text = str(err.value)
    assert text.startswith("s.toml: 2 errors: (1) ") and "\n" not in text
    assert "sweep.steps = 0" in text
    assert "unknown field 'sweep.replicats'; did you mean 'sweep.replicates'?" in text
    data = spec_data(tiny)
    data["parameters"].update(uncertanty={"levels": [0.5]}, fee_per_month={"levels": [0.001, 5.0]},
                              control={"levels": [0.0, 0.5]})
    with pytest.raises(ScenarioError) as err:
        sw.parse_spec(data, source="s.toml")
    text = str(err.value)
    assert text.startswith("s.toml: 3 errors: ")
    for part in ("parameters.control: context.control = 0.0: ", "allowed: a number in [0.05, 1.0]",
                 "parameters.uncertanty: unknown field 'uncertanty'; did you mean 'uncertainty'?",
                 "parameters.fee_per_month: regime.payment.fee_per_month = 0.001: "):
        assert part in text


def test_a_range_of_money_may_not_sample_values_below_a_penny(tiny):
    data = spec_data(tiny, design="latin_hypercube", samples=4)
    data["parameters"] = {"fee_per_month": {"min": 0.0, "max": 100.0}}
    with pytest.raises(ScenarioError, match=r"parameters.fee_per_month: min = 0.0: a range must start at "
                                            r"0.01 or above .*to include 0, give levels"):
        sw.parse_spec(data)
    data["parameters"] = {"fee_per_month": {"min": 0.01, "max": 100.0}}
    assert sw.parse_spec(data).parameters["fee_per_month"].min == 0.01


def test_sampled_design_needs_samples(tiny):
    data = spec_data(tiny, design="latin_hypercube")
    data["parameters"] = {"uncertainty": {"min": 0.1, "max": 0.9}}
    with pytest.raises(ScenarioError, match="sweep.samples"):
        sw.parse_spec(data)


# --- designs ---------------------------------------------------------------------------------------

def test_full_factorial_is_product_of_levels_times_replicates(tiny):
    items = sw.expand(spec_of(tiny))
    assert len(items) == 2 * 3 * 2
    assert [i.run for i in items] == list(range(12))
    assert {(i.values["uncertainty"], i.values["control"]) for i in items} == {
        (u, c) for u in (0.1, 0.9) for c in (0.3, 0.6, 0.9)}


def test_regimes_are_one_more_factor(tiny):
    items = sw.expand(spec_of(tiny, base=[tiny], regimes=["target_driven", "learning_oriented"]))
    assert len(items) == 2 * 2 * 3 * 2
    assert {i.regime for i in items} == {"target_driven", "learning_oriented"}


@pytest.mark.parametrize(("design", "samples", "expected"), [
    ("latin_hypercube", 10, 10),
    ("sobol", 8, 8 * (2 * 3 + 2)),      # Saltelli with second-order terms: N (2D + 2)
    ("morris", 4, 4 * (3 + 1)),         # N trajectories of D + 1 points
])
def test_sampled_design_sizes(tiny, design, samples, expected):
    data = spec_data(tiny, design=design, samples=samples, replicates=2)
    data["parameters"] = {"uncertainty": {"min": 0.1, "max": 0.9}, "control": {"min": 0.2, "max": 0.9},
                          "forum_interval": {"min": 1, "max": 12}}
    spec = sw.parse_spec(data)
    items = sw.expand(spec)
    assert len(items) == expected * 2
    values = pd.DataFrame([i.values for i in items])
    assert values["uncertainty"].between(0.1, 0.9).all() and values["control"].between(0.2, 0.9).all()
    assert all(isinstance(v, int) for v in values["forum_interval"])  # integer fields stay integers
    assert sw.design_points(spec) == sw.design_points(sw.parse_spec(data))  # the spec seed fixes it


@pytest.mark.parametrize("design", ["latin_hypercube", "sobol", "morris"])
def test_levels_in_a_sampled_design_are_a_discrete_factor(tiny, design):
    data = spec_data(tiny, design=design, samples=16)
    data["parameters"] = {"uncertainty": {"min": 0.1, "max": 0.9},
                          "measure": {"levels": ["threshold", "composite"]},
                          "context_led": {"levels": [False, True]}}
    spec = sw.parse_spec(data)
    problem = sw.salib_problem(spec)
    assert problem["names"] == ["uncertainty", "measure", "context_led"]
    assert problem["bounds"] == [[0.1, 0.9], [0.0, 1.0], [0.0, 1.0]]
    sample, points = sw.design_sample(spec), sw.design_points(spec)
    assert len(sample) == len(points)
    for row, point in zip(sample, points, strict=True):
        assert point["uncertainty"] == row[0]
        assert point["measure"] == ("threshold" if row[1] < 0.5 else "composite")
        assert point["context_led"] is bool(row[2] >= 0.5)
    assert {p["measure"] for p in points} == {"threshold", "composite"}


def test_run_seeds_equal_spawned_seeds():
    spawned = np.random.SeedSequence(7).spawn(5)
    for i in range(5):
        assert (sw.run_seed(7, i).generate_state(4) == spawned[i].generate_state(4)).all()


def test_example_specs_are_valid():
    grid = sw.load_spec("scenarios/sweeps/ebrahim_grid.toml")
    assert len(sw.expand(grid)) == 2 * 3 * 3 * grid.sweep.replicates
    levers = sw.load_spec("scenarios/sweeps/levers_sensitivity.toml")
    assert levers.sweep.design in {"sobol", "morris"}



@pytest.mark.parametrize("common", [False, True])
def test_common_random_numbers_give_replicate_r_of_every_point_the_same_world(tiny, tmp_path, common):
    data = spec_data(tiny, replicates=2, keep_steps=True, common_random_numbers=common)
    data["parameters"] = {"shared_purpose": {"levels": [0.0, 1.0]}}  # acts on providers, not on the world
    spec = sw.parse_spec(data)
    assert [item.stream for item in sw.expand(spec)] == ([0, 1, 0, 1] if common else [0, 1, 2, 3])
    sw.run_sweep(spec, tmp_path / "store", workers=1, progress=False)
    steps = pd.read_parquet(tmp_path / "store" / "steps")
    start = steps[steps["month"] == 0].set_index("run")["in_service_wellbeing"].sort_index()
    assert start[0] != start[1]  # two replicates: two worlds
    assert (start[0] == start[2] and start[1] == start[3]) == common
    last = steps[steps["month"] == steps["month"].max()].set_index("run")["in_service_wellbeing"]
    assert last[0] != last[2]  # the same world, different providers' purpose: different outcomes


# --- running and the store ---------------------------------------------------------------------------

def test_results_do_not_depend_on_workers_or_batching(tiny, tmp_path):
    spec = spec_of(tiny, keep_steps=True)
    one, two = tmp_path / "one", tmp_path / "two"
    counts = sw.run_sweep(spec, one, workers=1, progress=False)
    assert counts == {"runs": 12, "skipped": 0, "ok": 12, "failed": 0}
    spec_b = spec_of(tiny, keep_steps=True)
    sw.run_sweep(spec_b, two, workers=2, progress=False)
    a, b = read_summary(one), read_summary(two)
    pd.testing.assert_frame_equal(a, b)
    assert a["run"].tolist() == list(range(12)) and (a["status"] == "ok").all()
    assert {"uncertainty", "control", "final_mean_wellbeing", "mean_mean_wellbeing"} <= set(a.columns)
    steps = pd.read_parquet(one / "steps")
    assert len(steps) == 12 * 7 and set(steps["run"]) == set(range(12))
    manifest = json.loads((one / "manifest.json").read_text())
    assert manifest["hash"] == spec.digest() and manifest["n_runs"] == 12
    assert manifest["spec"]["sweep"]["steps"] == 6 and "numpy" in manifest["versions"]
    # one run in-process, straight from its seed, gives the same summary
    item = sw.expand(spec)[5]
    alone, _ = sw.run_batch(sw.base_scenarios(spec), [item], 6, 3, keep_steps=False)
    pd.testing.assert_frame_equal(alone, a.iloc[[5]].reset_index(drop=True))


def test_batches_are_sized_from_the_first_runs_cost_and_the_bar_shows_rate_and_time_left(
        tiny, tmp_path, monkeypatch, capsys):
    asked = []

    def size_for(run_seconds, n_runs, threads):
        asked.append((run_seconds, n_runs, threads))
        return 3

    monkeypatch.setattr(sw.runner, "auto_batch_size", size_for)
    store = tmp_path / "store"
    sw.run_sweep(spec_of(tiny, batch_size=None), store, workers=2, progress=True)
    [(run_seconds, n_runs, threads)] = asked  # sized once, from the first timed run
    assert threads == 2 and n_runs == 12 - 2 and run_seconds > 0
    parts = {p.name: sorted(pd.read_parquet(p)["run"]) for p in (store / "summary").glob("part-*.parquet")}
    assert sorted(parts.values()) == [[0], [1], [2, 3, 4], [5, 6, 7], [8, 9, 10], [11]]
    # each state of the bar: runs done of all, [elapsed<time left, rate]
    states = re.findall(r"sweep: +\d+%\|[^|]*\| (\d+)/12 \[\d\d:\d\d<(\d\d:\d\d|\?), +([\d.]+|\?)run/s\]",
                        capsys.readouterr().err)
    assert len(states) >= 2 and states[-1][0] == "12" and states[-1][1] == "00:00"
    assert any(float(rate) > 0 for _, left, rate in states[1:] if left != "?" and rate != "?")


def test_the_bar_shows_runs_a_second_even_below_one_a_second():
    """tqdm's default rate turns into seconds a run below one run a second, which the bar's
    readers (and the test above) did not expect from a sweep that started slowly.
    """
    bar = sw.runner.progress_bar(12, 0, enabled=True)
    try:
        slow = bar.format_meter(**{**bar.format_dict, "n": 1, "elapsed": 25.0})
    finally:
        bar.close()
    assert slow.endswith("| 1/12 [00:25<04:35,  0.04run/s]"), slow


@pytest.mark.parametrize(("run_seconds", "n_runs", "threads", "size"), [
    (0.005, 1000, 2, 125),   # tiny runs: as large as load balance allows (4 tasks per thread)
    (0.005, 100_000, 2, 200),  # ... and no more than a second of work per task
    (0.25, 200, 2, 4),       # the default run: about a second a task
    (30.0, 100, 2, 1),       # long runs go one by one
    (0.001, 10, 4, 1),       # few runs: one each
    (math.inf, 50, 2, 1),    # a run whose workers died: treated as expensive
])
def test_auto_batch_size(run_seconds, n_runs, threads, size):
    assert sw.auto_batch_size(run_seconds, n_runs, threads) == size


def test_batch_size_is_not_part_of_the_spec_hash(tiny):
    assert spec_of(tiny, batch_size=5).digest() == spec_of(tiny, batch_size=None).digest()
    assert spec_of(tiny, seed=4).digest() != spec_of(tiny).digest()


def test_resume_completes_a_partial_store_and_refuses_other_specs(tiny, tmp_path):
    spec = spec_of(tiny, keep_steps=True)
    store = tmp_path / "store"
    sw.run_sweep(spec, store, workers=2, progress=False)
    full = read_summary(store)
    full_steps = pd.read_parquet(store / "steps").sort_values(["run", "month"]).reset_index(drop=True)
    parts = sorted((store / "summary").glob("part-*.parquet"))
    assert len(parts) > 1
    parts[1].unlink()  # as if the sweep stopped after writing that batch's per-month part
    # ... and while writing others (atomic_write's temporary files)
    leftovers = [store / "summary" / ".part-00000010.parquet-x1.tmp",
                 store / "steps" / ".part-00000010.parquet-x2.tmp", store / ".manifest.json-x3.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    counts = sw.run_sweep(spec, store, workers=2, resume=True, progress=False)
    assert counts["skipped"] == 12 - counts["ok"] and 0 < counts["ok"] < 12
    assert not any(path.exists() for path in leftovers)
    pd.testing.assert_frame_equal(read_summary(store), full)
    steps = pd.read_parquet(store / "steps").sort_values(["run", "month"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(steps, full_steps)
    # everything done: nothing runs (and no cluster is started)
    assert sw.run_sweep(spec, store, resume=True, progress=False) == {
        "runs": 12, "skipped": 12, "ok": 0, "failed": 0}
    with pytest.raises(ScenarioError, match="not empty; use --resume"):
        sw.run_sweep(spec, store, progress=False)
    with pytest.raises(ScenarioError, match="made by another spec"):
        sw.run_sweep(spec_of(tiny, seed=4), store, resume=True, progress=False)


def test_a_failing_run_is_recorded_and_the_others_complete(tiny, monkeypatch):
    from sim.experiments import runs

    spec = spec_of(tiny)
    real = runs.run

    def flaky(scenario, steps, seed, on_step=None):
        if scenario.context.control == 0.6:
            raise RuntimeError("boom")
        return real(scenario, steps, seed)

    monkeypatch.setattr(runs, "run", flaky)
    summary, _ = sw.run_batch(sw.base_scenarios(spec), sw.expand(spec), 6, 3, keep_steps=False)
    failed = summary[summary["status"] == "failed"]
    assert len(failed) == 4 and (failed["control"] == 0.6).all()
    assert (failed["error"] == "RuntimeError: boom").all() and failed["final_mean_wellbeing"].isna().all()
    ok = summary[summary["status"] == "ok"]
    assert len(ok) == 8 and ok["final_mean_wellbeing"].notna().all()


def test_a_wholly_failed_batch_keeps_the_store_schema(tiny, monkeypatch, tmp_path):
    from sim.experiments import runs

    spec = spec_of(tiny)
    bases = sw.base_scenarios(spec)
    measures = sw.measure_columns(bases)
    items = sw.expand(spec)
    good, _ = sw.run_batch(bases, items[2:4], 6, 3, keep_steps=False, measures=measures)

    def broken(*args, **kwargs):
        raise ValueError("no")

    monkeypatch.setattr(runs, "run", broken)
    bad, _ = sw.run_batch(bases, items[:2], 6, 3, keep_steps=False, measures=measures)
    assert set(good.columns) == set(bad.columns) and bad["final_mean_wellbeing"].isna().all()
    sw.write_batch(tmp_path, bad, None)   # the first part read is the all-failed one
    sw.write_batch(tmp_path, good, None)
    store = read_summary(tmp_path)
    assert store["status"].tolist() == ["failed", "failed", "ok", "ok"]
    assert store.loc[2:, "final_mean_wellbeing"].notna().all()


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    frame = pd.DataFrame({"run": [0, 1], "x": [1.0, 2.0]})
    sw.write_batch(tmp_path, frame, None)
    assert [p.name for p in (tmp_path / "summary").iterdir()] == ["part-00000000.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "summary"), frame)


# --- the command line ---------------------------------------------------------------------------------

def test_cli_bad_spec_is_one_line_exit_2_nothing_written(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[sweep]\ndesign = "grid"\n[parameters.uncertainty]\nlevels = [0.1]\n')
    out = tmp_path / "store"
    result = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "sweep.design = 'grid'" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(("content", "words"), [
    ("[sweep]\nbase = ['caf\xe9']\n".encode("latin-1"), "not UTF-8"),
    (b"[sweep\n", "malformed TOML"),
])
def test_cli_unreadable_spec_is_one_line_exit_2_nothing_written(tmp_path, content, words):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(content)
    out = tmp_path / "store"
    result = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not out.exists()


def cli_sweep(tiny, tmp_path):
    """A spec of two runs, swept by ``commsim sweep`` into tmp_path/store: (spec, store, result)."""
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[sweep]\nbase = ["learning_oriented", "{tiny}"]\nsteps = 4\nseed = 1\n'
                    '[parameters.shared_purpose]\nlevels = [0.0, 1.0]\n')
    out = tmp_path / "store"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return spec, out, result


def test_cli_sweep_runs_and_resumes(tiny, tmp_path):
    spec, out, result = cli_sweep(tiny, tmp_path)
    assert "2 runs: 0 already done, 2 ok, 0 failed" in result.output
    assert len(pd.read_parquet(out / "summary")) == 2
    again = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--resume"])
    assert resumed.exit_code == 0 and "2 already done" in resumed.output
    both = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "x"), "--workers", "2",
                                    "--scheduler", "tcp://127.0.0.1:1"])
    assert both.exit_code == 2 and "not both" in both.output and not (tmp_path / "x").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "nonsense://x"])
def test_cli_unreachable_scheduler_is_one_line_exit_2_nothing_written(tiny, tmp_path, address):
    import dask

    spec = tmp_path / "spec.toml"
    spec.write_text(f'[sweep]\nbase = ["{tiny}"]\n[parameters.shared_purpose]\nlevels = [0.0, 1.0]\n')
    out = tmp_path / "store"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):  # port 1: nobody listens
        result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--scheduler", address])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"commsim: error: --scheduler {address}: ")
    assert not out.exists()


# --- a damaged store, and two sweeps of one store ------------------------------------------------------

def truncate(part):
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])


def test_a_damaged_part_is_named_by_analyse_and_repaired_by_resume(tiny, tmp_path, caplog):
    spec = spec_of(tiny, keep_steps=True)
    store = tmp_path / "store"
    sw.run_sweep(spec, store, workers=1, progress=False)
    full = read_summary(store)
    full_steps = pd.read_parquet(store / "steps").sort_values(["run", "month"]).reset_index(drop=True)
    damaged = sorted((store / "summary").glob("part-*.parquet"))[1]
    truncate(damaged)
    # reading: one line naming the part and the repair, exit 2, nothing written
    with pytest.raises(ScenarioError) as err:
        sw.read_store(store)
    text = str(err.value)
    assert text.startswith(f"{damaged}: a damaged part of the store (ArrowInvalid: Parquet magic bytes not "
                           "found in footer.") and "\n" not in text
    assert text.endswith(f"`commsim sweep SPEC --out {store} --resume` removes it and runs its runs again")
    result = CliRunner().invoke(app, ["analyse", str(store)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == f"commsim: error: {text}" and not (store / "analysis").exists()
    # resuming: the part and its per-month part go, with a line saying so; their runs are redone
    with caplog.at_level("WARNING", logger="sim"):
        counts = sw.run_sweep(spec, store, workers=1, resume=True, progress=False)
    assert counts["ok"] == 2 and counts["skipped"] == 10
    [note] = [r.getMessage() for r in caplog.records if r.name.startswith("sim")]
    assert note.startswith(f"{damaged}: damaged (ArrowInvalid: Parquet magic bytes not found")
    assert note.endswith("; removed with the rest of its batch, whose runs are run again")
    pd.testing.assert_frame_equal(read_summary(store), full)
    steps = pd.read_parquet(store / "steps").sort_values(["run", "month"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(steps, full_steps)


def test_a_damaged_per_month_part_takes_its_summary_part_with_it(tiny, tmp_path):
    spec = spec_of(tiny, keep_steps=True)
    store = tmp_path / "store"
    sw.run_sweep(spec, store, workers=1, progress=False)
    full = read_summary(store)
    part = sorted((store / "steps").glob("part-*.parquet"))[2]
    part.write_bytes(part.read_bytes()[:-8])  # the footer cut off
    counts = sw.run_sweep(spec, store, workers=1, resume=True, progress=False)
    assert counts["ok"] == 2
    pd.testing.assert_frame_equal(read_summary(store), full)
    assert len(pd.read_parquet(store / "steps")) == 12 * 7


HOLD = """
import sys
from sim.experiments.sweep import store_lock
with store_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes it, or kills this process
"""


def test_a_store_in_use_is_refused_untouched_and_free_again_when_its_holder_is_killed(tiny, tmp_path):
    spec_file, store, _ = cli_sweep(tiny, tmp_path)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=CHECKOUT_ENV)
    try:
        assert holder.stdout.readline().strip() == "held"  # a real second process holds the store
        for extra in ([], ["--resume"]):
            result = CliRunner().invoke(app, ["sweep", str(spec_file), "--out", str(store), *extra])
            assert result.exit_code == 2, result.output
            [line] = result.stderr.strip().splitlines()
            assert line == (f"commsim: error: {store}: in use by another sweep (it holds {store / '.lock'}); "
                            "let it finish or stop it, or give another --out")
        assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
        holder.send_signal(signal.SIGKILL)  # the operating system releases its lock
        holder.wait(timeout=60)
        resumed = CliRunner().invoke(app, ["sweep", str(spec_file), "--out", str(store), "--resume"])
        assert resumed.exit_code == 0 and "2 already done" in resumed.output
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
