"""The dashboard without a browser: the pair of runs, the controls, the views, the assets, the
command line and the page in a Jupyter kernel. (The page in a browser: test_dashboard_browser.py.)
"""

from __future__ import annotations

import dataclasses
import io
import socket
import stat
import tarfile
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import CommissioningModel
from sim.cli import app
from sim.dashboard import assets, controls, serve, views
from sim.dashboard import measures as m
from sim.dashboard.app import about_text, checked_seed
from sim.dashboard.pair import Design, Pair, context_presets, describe_preset, regime_presets
from sim.regime import LEVERS, PAYMENT_AND_MARKET
from sim.scenario import ScenarioError, allowed, field_paths, smallest_positive

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"population.n_citizens": 200, "providers.n_providers": 4, "providers.capacity": 30}


def small(**changes) -> Design:
    """A design with a small world, so that its runs take hundredths of a second."""
    return dataclasses.replace(Design(world=SMALL), **changes)


def stepped(pair: Pair, months: int) -> Pair:
    for _ in range(months):
        pair.step()
    return pair


def alone(design: Design, side: int, months: int) -> pd.DataFrame:
    """One side of a design run by itself, for comparison with the pair."""
    model = CommissioningModel(scenario=design.scenario(side), rng=design.seed)
    for _ in range(months):
        model.step()
    return model.results()


# --- the pair ---------------------------------------------------------------------------------------

def test_the_pair_steps_both_regimes_in_lockstep_as_if_each_ran_alone():
    design = small(seed=3)
    pair = stepped(Pair(design=design), 6)
    assert pair.month == 6 and {run.time for run in pair.runs.values()} == {6.0}
    for side in (0, 1):
        pd.testing.assert_frame_equal(pair.results()[side], alone(design, side, 6))


def test_both_regimes_face_the_same_world():
    results = Pair(design=small(seed=5)).results()
    for name in ("citizens", "waiting", "in_service_wellbeing", "in_service_hardest_wellbeing"):
        assert results[0][name].iloc[0] == results[1][name].iloc[0], name
    later = stepped(Pair(design=small(seed=5)), 6).results()
    assert later[0]["mean_wellbeing"].iloc[-1] != later[1]["mean_wellbeing"].iloc[-1]


def test_a_new_lever_rebuilds_only_its_side_and_replays_it_to_the_current_month():
    pair = stepped(Pair(design=small(seed=2)), 5)
    a, b = pair.runs[0], pair.runs[1]
    before = pair.results()[1]
    changed = pair.design.with_lever(1, "regime.measure", "threshold")
    pair.redesign(changed)
    assert pair.runs[0] is a and pair.runs[1] is not b
    assert pair.month == 5 and pair.runs[1].time == 5.0
    pd.testing.assert_frame_equal(pair.results()[1], alone(changed, 1, 5))
    assert not pair.results()[1][m.PARKED.name].equals(before[m.PARKED.name])  # providers act on it
    assert pair.labels()[1] == "B: learning_oriented, 1 field changed"


def test_a_shared_change_rebuilds_both_sides_and_b_can_be_switched_off():
    pair = stepped(Pair(design=small()), 2)
    a = pair.runs[0]
    pair.redesign(pair.design.with_seed(9))
    assert pair.runs[0] is not a and pair.month == 2
    pair.redesign(pair.design.with_regime(1, None))
    assert list(pair.runs) == [0] and list(pair.results()) == [0]
    pair.step()
    assert pair.runs[0].time == 3.0


def test_a_design_refuses_what_the_schema_refuses_and_keeps_changes_apart():
    design = small()
    with pytest.raises(ScenarioError, match="regime.prior_weight = 0.001.*allowed: a number in"):
        design.with_lever(1, "regime.prior_weight", 0.001)
    with pytest.raises(ScenarioError, match="unknown field"):
        design.with_lever(0, "regime.no_such_lever", 1)
    changed = design.with_lever(1, "regime.open_data", False)
    assert changed.levers == ({}, {"regime.open_data": False})
    assert changed.with_regime(1, "context_led").levers == ({}, {})  # a new preset, as it is set
    shared = design.with_world("context.uncertainty", 0.9).with_context("complex_uncontrollable")
    assert "context.uncertainty" not in shared.world and shared.world["population.n_citizens"] == 200
    assert shared.scenario(0).context.uncertainty == shared.scenario(1).context.uncertainty


def test_a_regime_file_of_ones_own_can_be_opened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mine.toml").write_text('[regime]\nname = "mine"\ndescription = "Forums every month."\n'
                                 "forum_interval = 1\n")
    serve.check_presets("mine.toml", "moderate")
    design = small(regimes=("target_driven", "mine.toml"))
    assert design.scenario(1).regime.forum_interval == 1
    assert describe_preset("mine.toml") == "Forums every month."
    assert describe_preset("moderate").startswith("The default context")
    assert describe_preset(None) == describe_preset("gone.toml") == ""


def test_a_seed_must_not_be_negative():
    assert checked_seed(0) == 0
    with pytest.raises(ScenarioError, match="seed = -1"):
        checked_seed(-1)


# --- the controls ---------------------------------------------------------------------------------

def lever_paths() -> list[str]:
    return [path for _, _, paths in controls.lever_groups() for path in paths]


def test_every_lever_and_payment_field_has_a_control_grouped_by_its_principle():
    groups = controls.lever_groups()
    assert [g[0] for g in groups[:7]] == [f"{lv.number}. {lv.principle}" for lv in LEVERS]
    assert [g[2] for g in groups] == [lv.fields for lv in LEVERS] + [PAYMENT_AND_MARKET]
    assert len(set(lever_paths())) == len(lever_paths())
    assert {p for p in field_paths() if p.startswith("regime.")} - set(lever_paths()) == {
        "regime.name", "regime.description"}


@pytest.mark.parametrize("path", [*lever_paths(), "context.uncertainty", "context.control"])
def test_a_control_takes_its_help_choices_and_bounds_from_the_schema(path):
    info, spec = field_paths()[path], controls.control(path)
    assert spec.help.lower() == controls.help_text(info.description).lower()
    assert spec.help[:-1].lower() in info.description.lower()
    if typing.get_origin(info.annotation) is typing.Literal:
        assert spec.kind == "select" and spec.choices == typing.get_args(info.annotation)
    elif info.annotation is bool:
        assert spec.kind == "switch"
    elif spec.kind != "select":
        allowed_range = allowed(info)  # the schema's own words: 'a number in [0.0, 1.0]'
        money = smallest_positive(info) is not None  # '0, or a number in [0.01, 1e7]': low is 0
        assert allowed_range.endswith(f"{spec.low}, {spec.high}]") or allowed_range.endswith(
            f"{spec.low}, {spec.high})") or (money and spec.low == 0 and allowed_range.startswith("0, or")
                                             and allowed_range.endswith(f", {spec.high}]"))
        assert spec.kind in ("slider", "number")
        if spec.kind == "slider":  # a slider cannot leave its range, so it must have one
            assert spec.low is not None and spec.high is not None


def test_help_lines_drop_the_lever_prefix_that_the_panel_heading_says():
    assert controls.help_text("Lever 1, systems perspective: what data reaches") == "What data reaches"
    assert controls.help_text("Lever 3: months between forums") == "Months between forums"
    assert controls.help_text("Providers may refuse referrals") == "Providers may refuse referrals"


def test_population_sizes_are_allowed_by_the_schema_and_presets_are_offered():
    spec = controls.control(controls.POPULATION)
    assert all(spec.low <= size <= spec.high for size in controls.POPULATION_SIZES)
    assert {"target_driven", "learning_oriented"} <= set(regime_presets())
    assert "moderate" in context_presets() and not set(regime_presets()) & set(context_presets())


# --- the views ------------------------------------------------------------------------------------

def test_every_measure_the_dashboard_reads_is_one_the_model_writes():
    model = CommissioningModel(rng=0)
    names = {value.name for value in vars(m).values() if isinstance(value, m.Measure)}
    states = {s.name for s in m.CASELOAD_STATES} | {m.WAITING.name}
    assert (names | {m.MONTH}) - set(model.results().columns) == set()
    assert states | {m.CASELOAD_SLOT, m.CASELOAD_SEGMENT} <= set(model.caseload_picture().columns)
    assert m.QUEUE_SLOT in set(model.caseload_picture()[m.CASELOAD_SLOT])


@pytest.mark.parametrize("regimes", [2, 1])
@pytest.mark.parametrize("view", views.VIEWS, ids=lambda v: v.title)
def test_each_view_draws_and_repaints_without_piling_up(view, regimes):
    design = small() if regimes == 2 else small().with_regime(1, None)
    pair = stepped(Pair(design=design), 4)
    canvas = views.Canvas(view, regimes)
    rows, cols = view.panels(regimes)
    assert len(canvas.paint(pair).axes) == rows * cols
    drawn = [len(ax.get_children()) for ax in canvas.axes.flat]
    canvas.figure.savefig(io.BytesIO(), format="png")
    pair.step()
    canvas.paint(pair).savefig(io.BytesIO(), format="png")
    assert [len(ax.get_children()) for ax in canvas.axes.flat] == drawn
    if view.by_month:
        assert canvas.axes[0, 0].get_xlim() == (0, 12)


def test_the_side_by_side_view_plots_b_minus_a():
    pair = stepped(Pair(design=small(seed=1)), 8)
    figure = views.draw(views.VIEWS[0], pair)
    results = pair.results()
    name = m.SIDE_BY_SIDE[0].name
    plotted = figure.axes[len(m.SIDE_BY_SIDE)].lines[-1].get_ydata()
    np.testing.assert_allclose(plotted, results[1][name] - results[0][name])
    head, rows = views.latest(results, pair.labels(), m.SIDE_BY_SIDE)
    assert head == ["", "A: target_driven", "B: learning_oriented", "B − A"]
    expected = results[1][name].iloc[-1] - results[0][name].iloc[-1]
    assert rows[0][0] == m.SIDE_BY_SIDE[0].label and float(rows[0][3]) == pytest.approx(expected, abs=5e-4)


def test_cost_per_wellbeing_is_undefined_until_wellbeing_is_gained():
    df = pd.DataFrame({m.SPEND_TOTAL.name: [0.0, 100.0, 300.0],
                       m.WELLBEING_GAINED_TOTAL.name: [0.0, 0.0, 2.0]})
    cost = views.cost_per_wellbeing(df)
    assert cost.isna().tolist() == [True, True, False] and cost.iloc[2] == 150.0


def test_numbers_are_written_for_reading():
    assert views.number(247133.4) == "247,133" and views.number(0.51234) == "0.512"
    assert views.number(-0.0123, signed=True) == "-0.012" and views.number(0.2, signed=True) == "+0.200"
    assert views.number(8.0) == "8" and views.number(-1.0, signed=True) == "-1" and views.number(0.0) == "0"
    assert views.number(float("nan")) == views.number(float("nan"), signed=True) == "–"


def test_the_about_panel_has_the_principles_the_views_and_where_to_read_more():
    text = about_text()
    for lever in LEVERS:
        assert f"{lever.number}. **{lever.principle}**: {lever.summary}" in text
    for view in views.VIEWS:
        assert f"**{view.title}**: {view.what}" in text
    for doc in ("docs/ODD.md", "docs/validation.md"):
        assert f"`{doc}`" in text and (ROOT / doc).is_file()
    assert "GO Lab" in text and "Collaborate CIC (2020)" in text


# --- the web assets ------------------------------------------------------------------------------

def solara_like(tmp_path: Path, text: str) -> list[Path]:
    path = tmp_path / "solara.html.j2"
    path.write_text(text)
    return [path]


def test_asset_versions_are_read_from_what_solara_loads(tmp_path):
    page = ('<script src="{{cdn}}/@widgetti/solara-vuetify-app@10.1.1/dist/app8.min.js">'
            '<script src="{{cdn}}/requirejs@2.3.6/require.js"> fontawesome_path = "/font-awesome@4.5.0/css/x"'
            ' import(`${cdn}/@widgetti/vue-grid-layout@2.3.13-alpha.2/dist/grid.umd.js`)')
    assert assets.required_versions(solara_like(tmp_path, page)) == {
        "@widgetti/solara-vuetify-app": "10.1.1", "@widgetti/vue-grid-layout": "2.3.13-alpha.2",
        "font-awesome": "4.5.0", "requirejs": "2.3.6"}
    with pytest.raises(assets.AssetError, match="requirejs at 2 versions"):
        assets.required_versions(solara_like(tmp_path, page + " requirejs@2.3.7/r.js"))
    with pytest.raises(assets.AssetError, match="font-awesome at 0 versions"):
        assets.required_versions(solara_like(tmp_path, page.replace("font-awesome", "fa")))


def test_the_installed_solara_asks_for_assets_that_setup_installed():
    versions = assets.required_versions()
    assert set(versions) == set(assets.packages()) and "@widgetti/solara-vuetify-app" in versions
    serve.check_assets(assets.cache_dir())  # raises if ./setup.sh left any out


def fake_npm(tmp_path: Path, fails: bool = False) -> str:
    """An ``npm`` that packs a tarball with a package.json (or fails), and counts its calls."""
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        data = b'{"name": "x"}'
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    script = tmp_path / "npm"
    body = ('echo "npm error 404 Not Found" >&2; exit 1' if fails else
            f'echo call >> {tmp_path}/calls; cp {tarball} "$4/x-1.0.0.tgz"; echo x-1.0.0.tgz')
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_assets_are_unpacked_as_the_cdn_lays_them_out_once(tmp_path):
    cache, npm = tmp_path / "cache", fake_npm(tmp_path)
    wanted = {"@scope/pkg": "1.0.0", "plain": "2.0"}
    assert assets.install(cache, wanted, npm=npm) == ["@scope/pkg@1.0.0", "plain@2.0"]
    assert (cache / "@scope" / "pkg@1.0.0" / "package.json").is_file()
    assert (cache / "plain@2.0" / "package.json").is_file()
    assert assets.install(cache, wanted, npm=npm) == []
    assert len((tmp_path / "calls").read_text().split()) == 2


def test_a_failed_download_says_why_in_one_line(tmp_path):
    with pytest.raises(assets.AssetError, match="npm pack plain@2.0 failed: npm error 404 Not Found"):
        assets.install(tmp_path / "cache", {"plain": "2.0"}, npm=fake_npm(tmp_path, fails=True))
    with pytest.raises(assets.AssetError, match="no-such-npm not found"):
        assets.install(tmp_path / "cache", {"plain": "2.0"}, npm="no-such-npm")
    assert not (tmp_path / "cache" / "plain@2.0").exists()


# --- the command line ----------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def served(monkeypatch):
    """What ``commsim dashboard`` would hand over to Solara's server (instead of doing so)."""
    handed = {}
    monkeypatch.setattr(serve.os, "execve", lambda exe, argv, env: handed.update(argv=argv, env=env))
    return handed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dashboard_serves_production_on_localhost_with_the_assets_cache(served):
    port = free_port()
    result = runner.invoke(app, ["dashboard", "context_led", "stable_controllable", "--port", str(port)])
    assert result.exit_code == 0, result.output
    argv, env = served["argv"], served["env"]
    assert argv[1:4] == ["-m", "solara", "run"] and "--production" in argv
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == str(port)
    assert env[assets.CACHE_ENV] == str(assets.cache_dir())
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    assert env["COMMSIM_DASHBOARD_REGIME"] == "context_led"
    assert env["COMMSIM_DASHBOARD_CONTEXT"] == "stable_controllable"
    assert "warning" not in result.stderr


def test_another_host_only_when_asked_and_with_a_warning(served):
    result = runner.invoke(app, ["dashboard", "--host", "0.0.0.0", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert served["argv"][served["argv"].index("--host") + 1] == "0.0.0.0"
    assert result.stderr.splitlines() == [
        f"commsim: warning: serving on 0.0.0.0:{served['argv'][-3]}: the page has no authentication; "
        "anyone who can reach this address can use it"]
    assert serve.is_loopback("::1") and serve.is_loopback("localhost") and not serve.is_loopback("pc.lan")


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "nope: not a regime preset (presets: "),
    (["moderate"], "moderate: not a regime preset"),
    (["target_driven", "target_driven"], "target_driven: not a context preset"),
    (["missing.toml"], "missing.toml: no such file"),
])
def test_bad_arguments_end_in_one_line_and_exit_2(served, args, message):
    result = runner.invoke(app, ["dashboard", *args, "--port", str(free_port())])
    assert result.exit_code == 2 and served == {}
    assert result.stderr.startswith(f"commsim: error: {message}") and len(result.stderr.splitlines()) == 1


def test_a_busy_port_or_missing_assets_end_in_one_line(served, monkeypatch, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["dashboard", "--port", str(port)])
    assert result.exit_code == 2 and f"cannot serve on 127.0.0.1:{port}" in result.stderr
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path))
    result = runner.invoke(app, ["dashboard", "--port", str(free_port())])
    assert result.exit_code == 2 and served == {}
    assert "web assets are not installed" in result.stderr and "./setup.sh" in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- in Jupyter ----------------------------------------------------------------------------------

def test_one_cell_shows_the_dashboard_in_jupyter():
    import nbclient  # the 'browser' extra, which ./setup.sh installs
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from sim.dashboard import Dashboard\nDashboard()")])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert [o for o in outputs if o.output_type == "error"] == []
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
