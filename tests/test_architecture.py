"""The shape of the code: the core stands alone, the levers are findable, payment models are one list."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import numpy as np
import pytest
from conftest import small
from pydantic import BaseModel

from sim import CommissioningModel
from sim.model import RunScenario
from sim.payment import PAYMENT_MODELS, PaymentModel
from sim.presets import load
from sim.regime import LEVERS, PAYMENT_AND_MARKET
from sim.scenario import PaymentSettings, RegimeSettings, ScenarioError, field_paths

SIM = Path(__file__).resolve().parents[1] / "sim"
CORE = ["arrays", "beliefs", "citizens", "commissioner", "learning", "market", "measures", "model",
        "payment", "providers", "regime", "reporting", "scenario", "service", "world"]
OUTSIDE_THE_CORE = ("sim.experiments", "sim.plots", "sim.cli", "sim.dashboard")


def imports(module: str) -> list[str]:
    tree = ast.parse((SIM / f"{module}.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_nothing_from_experiments_plots_or_the_command_line(module):
    bad = [name for name in imports(module) if name.startswith(OUTSIDE_THE_CORE)]
    assert not bad, f"sim/{module}.py imports {bad}"


@pytest.mark.parametrize("module", CORE)
def test_the_core_reads_and_writes_no_files_and_prints_nothing(module):
    tree = ast.parse((SIM / f"{module}.py").read_text())
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    builtins = {f.id for f in calls if isinstance(f, ast.Name)}
    methods = {f.attr for f in calls if isinstance(f, ast.Attribute)}
    assert not builtins & {"open", "print", "input"}
    assert not methods & {"read_text", "write_text", "read_bytes", "write_bytes", "to_parquet",
                          "to_csv", "savefig"}
    assert "tomllib.load(" not in (SIM / f"{module}.py").read_text()
    # the one way in from a preset name is sim.presets, imported by the model for convenience
    assert set(imports(module)) & {"sim.presets"} <= ({"sim.presets"} if module == "model" else set())


def test_plots_and_experiments_do_not_import_each_other_in_a_circle():
    tree = ast.parse((SIM / "plots.py").read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in modules if m.startswith(("sim.experiments", "sim.model"))]


# --- levers --------------------------------------------------------------------------------------

def resolve(qualified: str):
    module, _, rest = qualified.partition(".")
    parts = qualified.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise AssertionError(f"{qualified}: no such module")


@pytest.mark.parametrize("lever", LEVERS, ids=lambda lever: f"lever{lever.number}")
def test_every_lever_names_functions_that_read_each_of_its_fields(lever):
    sources = []
    for name in lever.implemented_by:
        obj = resolve(name)
        sources.append(inspect.getsource(obj.fget if isinstance(obj, property) else obj))
    text = "\n".join(sources)
    for path in lever.fields:
        assert f".{path.rsplit('.', 1)[-1]}" in text, f"lever {lever.number}: nothing named reads {path}"


def test_the_levers_and_the_payment_terms_cover_every_regime_field():
    named = [f for lever in LEVERS for f in lever.fields] + list(PAYMENT_AND_MARKET)
    regime_fields = [p for p in field_paths() if p.startswith("regime.")
                     and p not in ("regime.name", "regime.description")]
    assert sorted(named) == sorted(regime_fields)
    assert [lever.number for lever in LEVERS] == list(range(1, 8))


def test_every_regime_field_is_read_while_the_presets_run(monkeypatch):
    """Each lever and payment field is read by the running model (not only declared)."""
    read: set[str] = set()
    for section in (RegimeSettings, PaymentSettings):
        original = BaseModel.__getattribute__
        prefix = "regime." if section is RegimeSettings else "regime.payment."
        names = set(section.model_fields)

        def spy(self, name, _original=original, _prefix=prefix, _names=names):
            if name in _names:
                read.add(_prefix + name)
            return _original(self, name)

        monkeypatch.setattr(section, "__getattribute__", spy)
    presets = ["target_driven", "learning_oriented", "context_led", "hybrid_outcomes_learning",
               "hybrid_targets_with_forums"]
    for preset in presets:
        model = CommissioningModel(scenario=small(preset, differential_prices=True), rng=1)
        model.run_for(37)  # past a review (12) and a re-tender (36)
    every = {f for lever in LEVERS for f in lever.fields} | set(PAYMENT_AND_MARKET)
    assert not sorted(every - read)


# --- payment models ------------------------------------------------------------------------------

def test_the_schemas_payment_models_are_the_classes():
    allowed = field_paths()["regime.payment.model"].annotation.__args__
    assert tuple(PAYMENT_MODELS) == allowed
    for name, cls in PAYMENT_MODELS.items():
        assert issubclass(cls, PaymentModel) and cls.name == name


def test_an_unknown_payment_model_cannot_be_given():
    with pytest.raises(ScenarioError, match="regime.payment.model"):
        load("target_driven", overrides=["payment.model=payment_by_magic"])


def test_every_payment_model_answers_the_same_questions():
    model = CommissioningModel(scenario=small("target_driven"), rng=2)
    model.run_for(3)
    for name in PAYMENT_MODELS:
        run = CommissioningModel(scenario=small("target_driven", model=name), rng=2)
        run.run_for(3)
        payment = run.regime.payment
        assert payment.name == name
        assert 0.0 <= payment.at_risk <= 1.0
        assert payment.parked() >= 0.0
        assert np.all(payment.price(np.arange(6)) >= 0)


# --- Mesa's view of the run ----------------------------------------------------------------------

def test_model_scenario_carries_the_runs_parameters_and_seed():
    scenario = small("learning_oriented")
    model = CommissioningModel(scenario=scenario, rng=7)
    assert isinstance(model.scenario, RunScenario)
    assert model.scenario.rng == 7
    assert model.scenario.config == scenario
    assert model.scenario.context == scenario.context and model.scenario.regime == scenario.regime
    model.run_for(6)
    again = CommissioningModel(scenario=model.scenario)  # its parameters and its seed
    again.run_for(6)
    assert again.results().equals(model.results())
