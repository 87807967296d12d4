"""The command line end to end at tiny sizes, and its handling of bad input."""

import importlib
import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app

TINY = ["--set", "n_citizens=80", "--set", "n_providers=3", "--set", "capacity=15", "--steps", "8"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_table_summary_and_figure(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "target_driven", "complex_uncontrollable", *TINY, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 9 and table["month"].tolist() == list(range(9))
    pd.testing.assert_frame_equal(table, pd.read_csv(out / "results.csv"), check_dtype=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["steps"] == 8
    assert summary["scenario"]["context"]["name"] == "complex_uncontrollable"
    assert summary["scenario"]["regime"]["name"] == "target_driven"
    assert summary["scenario"]["population"]["n_citizens"] == 80
    assert {"python", "mesa", "numpy", "commsim"} <= summary["versions"].keys()
    assert (out / "run.png").stat().st_size > 10_000


def test_run_is_reproducible_from_its_seed(tmp_path):
    tables = []
    for name in ("a", "b"):
        assert invoke("run", "learning_oriented", *TINY, "--seed", 5, "--out", tmp_path / name).exit_code == 0
        tables.append(pd.read_parquet(tmp_path / name / "results.parquet"))
    pd.testing.assert_frame_equal(*tables)


def test_compare_reports_levels_and_paired_differences(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "target_driven", "learning_oriented", "--reps", 3, *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs["regime"]) == {"target_driven", "learning_oriented"}
    assert runs.groupby("regime")["replicate"].nunique().tolist() == [3, 3]
    levels = pd.read_csv(out / "levels.csv")
    row = levels[(levels.regime == "learning_oriented") & (levels.measure == "mean_wellbeing")
                 & (levels.statistic == "final")].iloc[0]
    assert row.ci_low <= row["mean"] <= row.ci_high and row.n == 3
    diffs = pd.read_csv(out / "differences.csv")
    assert set(diffs.regime) == {"learning_oriented"} and set(diffs.baseline) == {"target_driven"}
    # a paired difference is the mean of the replicate-by-replicate differences
    final = runs[runs.month == runs.month.max()].pivot(index="replicate", columns="regime",
                                                        values="mean_wellbeing")
    d = diffs[(diffs.measure == "mean_wellbeing") & (diffs.statistic == "final")].iloc[0]
    assert d.difference == pytest.approx((final.learning_oriented - final.target_driven).mean())
    assert "| Mean wellbeing of everyone referred (intent to treat) [wellbeing (0 to 1)] | months 1-8 |" in (
        out / "summary.md").read_text()
    assert (out / "compare.png").stat().st_size > 10_000


def test_replicates_of_two_regimes_share_their_worlds(tmp_path):
    out = tmp_path / "cmp"
    assert invoke("compare", "target_driven", "learning_oriented", "--reps", 2, *TINY, "--out", out
                  ).exit_code == 0
    runs = pd.read_parquet(out / "runs.parquet")
    arrived = runs.pivot_table(index=["replicate", "month"], columns="regime", values="arrived_total")
    assert (arrived.target_driven == arrived.learning_oriented).all()
    assert arrived.loc[0].iloc[-1, 0] != arrived.loc[1].iloc[-1, 0]  # replicates differ


def test_scenarios_lists_every_preset_with_a_line():
    result = invoke("scenarios")
    assert result.exit_code == 0
    for name in ("target_driven", "learning_oriented", "context_led", "hybrid_outcomes_learning",
                 "stable_controllable", "complex_uncontrollable"):
        line = next(line for line in result.output.splitlines() if name in line)
        assert len(line.split(name, 1)[1].strip()) > 20


def test_fields_lists_every_field_with_range():
    result = invoke("fields")
    assert result.exit_code == 0
    assert "context.uncertainty = 0.4; a number in [0.0, 1.0]" in result.output
    assert "regime.payment.model = 'fee_for_service'; one of 'outcomes'" in result.output


BAD_INPUT = [
    (["--set", "context.uncertainty=1.5"], ["context.uncertainty", "1.5", "[0.0, 1.0]"]),
    (["--set", "uncertainty=high"], ["context.uncertainty", "'high'", "a number"]),
    (["--set", "colour=red"], ["unknown field 'colour'"]),
    (["--set", "model=voucher"], ["regime.payment.model", "'voucher'", "one of 'outcomes'"]),
    (["--set", "n_citizens=0"], ["population.n_citizens", "0", "an integer in [1, 10000000]"]),
    (["--set", "uncertainty"], ["FIELD=VALUE"]),
]


@pytest.mark.parametrize(("extra", "expected"), BAD_INPUT)
def test_bad_values_give_one_clear_line_and_exit_2(tmp_path, extra, expected):
    out = tmp_path / "never"
    result = invoke("run", "target_driven", *extra, "--out", out)
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    for part in expected:
        assert part in message
    assert not out.exists()


def test_malformed_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[regime\nname = 1\n")
    result = invoke("run", bad, "--out", tmp_path / "never")
    assert result.exit_code == 2 and str(bad) in result.output and "malformed TOML" in result.output
    assert not (tmp_path / "never").exists()


def test_bad_value_in_a_file_names_file_field_value_and_range(tmp_path):
    bad = tmp_path / "regime.toml"
    bad.write_text("[regime.payment]\naudit_rate = 2.0\n")
    result = invoke("run", bad, "--out", tmp_path / "never")
    assert result.exit_code == 2
    for part in (str(bad), "regime.payment.audit_rate", "2.0", "[0.0, 1.0]"):
        assert part in result.output


@pytest.mark.parametrize("name", ["no_such_regime", "missing.toml"])
def test_missing_file_or_preset(tmp_path, name):
    result = invoke("run", name, "--out", tmp_path / "never")
    assert result.exit_code == 2 and name in result.output and "no such file" in result.output


def test_bad_input_never_touches_results_already_written(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "target_driven", *TINY, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert invoke("run", "target_driven", "--set", "control=0", "--out", out).exit_code == 2
    assert invoke("compare", "target_driven", "nope", "--out", out).exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_python_dash_m_sim_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "target_driven", "--set",
                           "forum_interval=-1", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "regime.forum_interval = -1" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_validate_prints_the_table_writes_report_and_figure_and_exits_by_verdict(tmp_path):
    out = tmp_path / "validation"
    result = invoke("validate", "--only", "multitask", "--reps", 2, "--out", out)
    assert result.exit_code == 0, result.output  # the multitask check passes by construction
    assert "Holmstrom" in result.output and "pass" in result.output
    report = (out / "report.md").read_text()
    assert "| Multitask incentives |" in report and "pass" in report
    # both curves, model and closed form, for 5 prices x 2 substitution values, printed and written
    curves = [line for line in report.splitlines() if line.startswith(("| 0 |", "| 0.5 |"))]
    assert len(curves) == 10
    assert "measured: closed form" in result.output and "unmeasured: model" in result.output
    assert (out / "multitask_incentives.png").stat().st_size > 10_000
    unknown = invoke("validate", "--only", "nonsense", "--out", tmp_path / "x")
    assert unknown.exit_code == 2 and "no such check" in unknown.output and not (tmp_path / "x").exists()


# --- bad input is refused before any work, in one line ------------------------------------------------

def one_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("commsim: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("mix", ["[nan, 1]", "[inf, 1]", "[-inf, 1]"])
def test_nan_or_infinity_is_one_line_exit_2_from_set_or_a_file(tmp_path, mix):
    bad = tmp_path / "mix.toml"
    bad.write_text(f"[population]\nsegment_mix = {mix}\n")
    for args in (["--set", f"segment_mix={mix}"], [bad]):
        line = one_line(invoke("run", "target_driven", *args, "--out", tmp_path / "never"))
        assert "population.segment_mix[0]" in line and "finite number" in line
    assert not (tmp_path / "never").exists()


def test_an_unknown_field_from_set_says_so_and_suggests_one(tmp_path):
    line = one_line(invoke("run", "target_driven", "--set", "uncertanty=0.8", "--out", tmp_path / "x"))
    assert line == ("commsim: error: --set: uncertanty=0.8: unknown field 'uncertanty'; did you mean "
                    "'uncertainty'? (see `commsim fields` for the list)")


def test_three_errors_in_a_file_are_one_line(tmp_path):
    bad = tmp_path / "three.toml"
    bad.write_text('[context]\nuncertainty = 1.5\n[population]\nn_citizens = "lots"\n'
                   "[regime]\nforum_intervall = 3\n")
    line = one_line(invoke("run", bad, "--out", tmp_path / "x"))
    assert f"{bad}: 3 errors: (1) " in line
    for part in ("context.uncertainty = 1.5", "population.n_citizens = 'lots'", "regime.forum_intervall"):
        assert part in line


def no_simulation(monkeypatch):
    """Make any simulation fail loudly: a command refused before any work never gets to one."""
    def never(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(importlib.import_module("sim.experiments.runs"), "run", never)
    monkeypatch.setattr(importlib.import_module("sim.experiments.compare"), "compare", never)


@pytest.mark.parametrize("command", [["run", "target_driven"],
                                     ["compare", "target_driven", "learning_oriented"]])
def test_out_naming_a_file_is_refused_before_any_work(tmp_path, monkeypatch, command):
    no_simulation(monkeypatch)
    out = tmp_path / "results.txt"
    out.write_text("mine")
    line = one_line(invoke(*command, *TINY, "--out", out, "--force"))
    assert f"{out}: exists and is not a folder" in line
    assert out.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("made") / "run"
    assert invoke("run", "target_driven", *TINY, "--out", out).exit_code == 0
    return out


def test_a_results_folder_records_the_command_and_files_that_made_it(run_folder, tmp_path):
    marker = json.loads((run_folder / ".commsim.json").read_text())
    assert marker["command"] == "run"
    assert sorted(marker["files"]) == ["results.csv", "results.parquet", "run.png", "summary.json"]
    (tmp_path / "plain").mkdir()  # the folder has the permissions of a plain mkdir, not a temporary one's
    assert run_folder.stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_another_commands_folder_is_refused_unchanged_unless_forced(run_folder, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_folder, out)
    before = snapshot(out)
    with monkeypatch.context() as patched:
        no_simulation(patched)
        line = one_line(invoke("compare", "target_driven", "learning_oriented", "--reps", 2, *TINY,
                               "--out", out))
    assert line == (f"commsim: error: {out}: holds the results of `commsim run`; --force replaces it, "
                    "or give another --out")
    assert snapshot(out) == before
    forced = invoke("compare", "target_driven", "learning_oriented", "--reps", 2, *TINY, "--out", out,
                    "--force")
    assert forced.exit_code == 0, forced.output
    # replaced whole: nothing of the run is left beside the comparison
    assert sorted(p.name for p in out.iterdir()) == [".commsim.json", "compare.png", "differences.csv",
                                                      "levels.csv", "runs.parquet", "summary.json",
                                                      "summary.md"]
    assert json.loads((out / "summary.json").read_text())["reps"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no stage or old folder left beside it


def test_files_commsim_did_not_write_are_refused_unless_forced(run_folder, tmp_path):
    import shutil

    for name, extra in (("mine", None), ("added", "notes.txt")):
        out = tmp_path / name
        if extra:  # a run's folder to which someone added a file
            shutil.copytree(run_folder, out)
            (out / extra).write_text("keep me")
        else:
            out.mkdir()
            (out / "thesis.tex").write_text("keep me")
        before = snapshot(out)
        line = one_line(invoke("run", "target_driven", *TINY, "--out", out))
        assert f"{out}: holds files commsim did not write ({extra or 'thesis.tex'}); --force" in line
        assert snapshot(out) == before
        assert invoke("run", "target_driven", *TINY, "--out", out, "--force").exit_code == 0
        assert not (out / (extra or "thesis.tex")).exists()


def test_a_folder_made_by_the_same_command_is_replaced_whole(run_folder, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_folder, out)
    marker = json.loads((out / ".commsim.json").read_text())
    marker["files"].append("old.png")  # as if an earlier run had written a file this one does not
    (out / ".commsim.json").write_text(json.dumps(marker))
    (out / "old.png").write_bytes(b"stale")
    result = invoke("run", "learning_oriented", *TINY, "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    assert not (out / "old.png").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == 4


def test_a_command_that_fails_half_way_leaves_the_old_folder_as_it_was(run_folder, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_folder, out)
    before = snapshot(out)

    def broken_plot(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr("sim.plots.plot_run", broken_plot)
    result = invoke("run", "target_driven", *TINY, "--seed", 9, "--out", out)
    assert isinstance(result.exception, RuntimeError)
    assert snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_swap_that_fails_puts_everything_back(tmp_path, monkeypatch):
    import os

    from sim.experiments import output

    out = tmp_path / "sa"
    (out / "store").mkdir(parents=True)
    (out / "store" / "manifest.json").write_text("{}")
    (out / "indices.csv").write_text("old")
    before = snapshot(out)
    real = os.rename

    def rename(src, dst):
        if str(src).startswith(str(tmp_path / ".sa-new-")) and dst == out:
            raise OSError("no room")
        return real(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OSError, match="no room"):
        with output.staged(out, "sensitivity", force=True, keep=("store",)) as stage:
            (stage / "indices.csv").write_text("new")
    assert snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["sa"]


def test_bare_commsim_shows_the_help_and_version_prints_it():
    from sim import __version__

    bare = invoke()
    assert bare.exit_code == 0 and "Usage" in bare.output and "compare" in bare.output
    version = invoke("--version")
    assert version.exit_code == 0 and version.output.strip() == f"commsim {__version__}"


@pytest.mark.parametrize(("args", "words"), [
    (["run"], "Missing argument 'scenario'"),
    (["run", "target_driven", "--steps", "0"], "Invalid value for '--steps'"),
    (["rnu"], "No such command 'rnu'. Did you mean 'run'?"),
    (["compare", "target_driven", "learning_oriented", "--reps", "many"], "Invalid value for '--reps'"),
    (["run", "target_driven", "--colour", "red"], "No such option: --colour"),
])
def test_usage_errors_are_one_line_too(tmp_path, args, words):
    line = one_line(invoke(*args, "--out", tmp_path / "x") if args != ["rnu"] else invoke(*args))
    assert words in line and "--help" in line and not (tmp_path / "x").exists()
