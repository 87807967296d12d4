"""The command line end to end at tiny sizes, and its handling of bad input."""

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
    assert "| Mean wellbeing of citizens present | wellbeing (0 to 1) | months 1-8 |" in (
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
