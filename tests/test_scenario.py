"""Scenario schema: validation errors that say what is wrong, presets, merging, overrides."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim import presets
from sim import scenario as S
from sim.presets import load
from sim.scenario import Scenario, ScenarioError, field_paths, parse_override

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
PRESET_FILES = sorted(p for p in SCENARIOS.rglob("*.toml") if "sweeps" not in p.parts)


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def message(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text  # one readable line
    return text


# --- overrides -----------------------------------------------------------------------------------

def test_unknown_field():
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({"n_citizenz": 5})
    assert "n_citizenz" in message(err) and "unknown field" in message(err)


@pytest.mark.parametrize("field, value, path, allowed", [
    ("n_citizens", "many", "population.n_citizens", "an integer in [1, 10000000]"),
    ("n_citizens", 3.5, "population.n_citizens", "an integer"),
    ("segment_mix", "lots", "population.segment_mix", "list"),
    ("open_data", "perhaps", "regime.open_data", "true or false"),
])
def test_wrong_type(field, value, path, allowed):
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({field: value})
    text = message(err)
    assert path in text and repr(value) in text and allowed in text


@pytest.mark.parametrize("field, value, path, allowed", [
    ("uncertainty", 1.5, "context.uncertainty", "[0.0, 1.0]"),
    ("control", 0.0, "context.control", "[0.05, 1.0]"),
    ("n_citizens", 0, "population.n_citizens", "[1, 10000000]"),
    ("budget_per_month", 0.0, "regime.payment.budget_per_month", "[0.01, 1000000000000.0]"),
    ("forgetting", 0.2, "providers.forgetting", "[0.5, 1.0]"),
])
def test_out_of_range(field, value, path, allowed):
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({field: value})
    text = message(err)
    assert path in text and repr(value) in text and allowed in text


@pytest.mark.parametrize("field, value, path, allowed", [
    ("model", "pbr", "regime.payment.model", "'outcomes', 'distance_travelled'"),
    ("measure", "vibes", "regime.measure", "'threshold', 'composite'"),
    ("retender_rule", "fire_all", "regime.retender_rule", "'keep_learners'"),
    ("measured_domain", "money", "regime.measured_domain", "'employment', 'housing', 'health', 'social'"),
])
def test_bad_literal(field, value, path, allowed):
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({field: value})
    text = message(err)
    assert path in text and repr(value) in text and allowed in text


def test_bad_segment_mix_is_named():
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({"segment_mix": [-1.0, 0.5]})
    assert "segment_mix" in message(err)


FLOAT_FIELDS = [path for path, info in field_paths().items() if info.annotation is float]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
@pytest.mark.parametrize("path", FLOAT_FIELDS)
def test_no_number_may_be_nan_or_infinite(path, value):
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({path: value})
    assert f"{path} = {value!r}: Input should be a finite number" in message(err)


@pytest.mark.parametrize("mix", ["[nan, 1]", "[inf, 1]", "[1e7, 1]", "[0, 0]", "[-0.5, 1]"])
def test_segment_mix_entries_are_finite_bounded_weights_with_a_positive_sum(tmp_path, mix):
    path = write(tmp_path, f"[population]\nsegment_mix = {mix}\n")
    for attempt in (lambda: load(path), lambda: load(overrides=[f"segment_mix={mix}"])):
        with pytest.raises(ScenarioError) as err:
            attempt()
        assert "population.segment_mix" in message(err)
        assert "a list of 2 to 12 numbers in [0.0, 1000000.0] with a positive sum" in message(err)


@pytest.mark.parametrize(("field", "value"), [
    ("world.prior_sd", 1e-300), ("world.effect_scale", 1e-300), ("providers.effort_cost", 1e-300),
    ("providers.max_effort", 1e-300), ("regime.payment.budget_per_month", 1e-300),
    ("regime.payment.fee_per_month", 1e-308), ("regime.payment.attachment_fee", 0.001),
    ("providers.start_cash", 5e-324),
])
def test_absurdly_small_positive_values_are_refused(field, value):
    with pytest.raises(ScenarioError) as err:
        Scenario().with_overrides({field: value})
    text = message(err)
    assert f"{field} = {value!r}" in text and f"allowed: {S.allowed(field_paths()[field])}" in text


def test_money_is_none_or_at_least_a_penny():
    assert S.allowed(field_paths()["regime.payment.fee_per_month"]) == "0, or a number in [0.01, 1000000.0]"
    zero = Scenario().with_overrides({"fee_per_month": 0.0, "attachment_fee": 0.01, "start_cash": 0})
    assert (zero.regime.payment.fee_per_month, zero.regime.payment.attachment_fee) == (0.0, 0.01)
    with pytest.raises(ScenarioError, match="between 0 and 0.01 means nothing"):
        Scenario().with_overrides({"fee_per_month": 0.009})


def test_every_lower_bound_means_something():
    """No float field takes values just above zero unless zero itself is allowed (then at least a
    penny): what a divisor or a sum of money below its minimum would be is not a number that means
    anything, and it overflows into inf and NaN measures.
    """
    for path, info in field_paths().items():
        if info.annotation is not float:
            continue
        text = S.allowed(info)
        assert not text.startswith("a number in (0"), path  # open at 0: 1e-300 would pass
        low = float(text.split("[", 1)[1].split(",", 1)[0])
        assert low == 0.0 or low >= 0.001, path
        if S.unit(info).startswith("GBP"):
            assert text.startswith("0, or a number in [0.01,") or low >= S.PENNY, path


def test_the_allowed_text_is_what_validation_allows():
    """Each field's ``allowed`` range: its ends are valid, just outside them is not."""
    for path, info in field_paths().items():
        text = S.allowed(info)
        if " in [" not in text or info.annotation not in (int, float):
            continue
        low, high = (float(x) for x in text.split(" in [", 1)[1].rstrip("]").split(", "))
        cast = info.annotation
        outside = (low - 1, high + 1) if cast is int else (math.nextafter(low, -math.inf),
                                                           math.nextafter(high, math.inf))
        for value in (low, high):
            Scenario().with_overrides({path: cast(value)})
        for value in outside:
            with pytest.raises(ScenarioError):
                Scenario().with_overrides({path: cast(value)})
        if text.startswith("0, or"):
            Scenario().with_overrides({path: 0.0})
            with pytest.raises(ScenarioError):
                Scenario().with_overrides({path: low / 2})


def test_valid_overrides_apply_to_the_right_section():
    sc = Scenario().with_overrides({"uncertainty": 0.8, "regime.payment.model": "outcomes",
                                    "n_providers": 3, "segment_mix": [1, 1]})
    assert sc.context.uncertainty == 0.8
    assert sc.regime.payment.model == "outcomes"
    assert sc.providers.n_providers == 3
    assert sc.population.segment_mix == [1.0, 1.0]
    assert Scenario().context.uncertainty != 0.8  # the original is untouched (frozen copy)


def test_parse_override():
    assert parse_override("context.uncertainty=0.8") == ("context.uncertainty", 0.8)
    assert parse_override("uncertainty=0.8") == ("context.uncertainty", 0.8)
    assert parse_override(" uncertainty = 0.8 ") == ("context.uncertainty", 0.8)
    assert parse_override("measure=composite") == ("regime.measure", "composite")
    assert parse_override("open_data=true") == ("regime.open_data", True)
    assert parse_override("n_citizens=500") == ("population.n_citizens", 500)
    assert parse_override("segment_mix=[1, 2, 3]") == ("population.segment_mix", [1, 2, 3])
    assert parse_override("regime.name=mine") == ("regime.name", "mine")
    assert parse_override("payment.model=outcomes") == ("regime.payment.model", "outcomes")


def test_an_unknown_field_says_it_came_from_set_and_suggests_the_closest():
    with pytest.raises(ScenarioError) as err:
        load("target_driven", overrides=["uncertanty=0.8"])
    text = message(err)
    assert text.startswith("--set: uncertanty=0.8: unknown field 'uncertanty'")
    assert "did you mean 'uncertainty'?" in text
    with pytest.raises(ScenarioError) as err:
        parse_override("context.contrl=0.5")
    assert message(err).startswith("--set context.contrl=0.5: ")
    assert "did you mean 'context.control'?" in message(err)
    with pytest.raises(ScenarioError) as err:
        parse_override("zzzz=1")
    assert "did you mean" not in message(err)


def test_every_bad_set_is_reported_at_once():
    with pytest.raises(ScenarioError) as err:
        load("target_driven", overrides=["colour=red", "uncertainty=2", "fee_per_month=0.001"])
    text = message(err)
    assert text.startswith("--set: 3 errors: (1) colour=red: unknown field 'colour'")
    assert "(2) context.uncertainty = 2: " in text and "(3) regime.payment.fee_per_month = 0.001: " in text


@pytest.mark.parametrize("text, words", [
    ("name=mine", ["ambiguous", "context.name", "regime.name"]),
    ("description=x", ["ambiguous", "context.description", "regime.description"]),
    ("uncertainty", ["FIELD=VALUE"]),
    ("nonsense=1", ["unknown field", "nonsense"]),
    ("context.nonsense=1", ["unknown field", "context.nonsense"]),
])
def test_parse_override_rejects(text, words):
    with pytest.raises(ScenarioError) as err:
        parse_override(text)
    for word in words:
        assert word in message(err)


# --- files ---------------------------------------------------------------------------------------

def test_out_of_range_in_a_file(tmp_path):
    path = write(tmp_path, "[context]\nuncertainty = 1.5\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert str(path) in text and "context.uncertainty" in text and "1.5" in text and "[0.0, 1.0]" in text


def test_wrong_type_in_a_file(tmp_path):
    path = write(tmp_path, '[population]\nn_citizens = "lots"\n')
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert str(path) in text and "population.n_citizens" in text and "'lots'" in text
    assert "an integer" in text


@pytest.mark.parametrize("text", ["[context]\nuncertainty = true\n", "[providers]\nn_providers = true\n"])
def test_boolean_for_a_number_in_a_file_is_rejected(tmp_path, text):
    with pytest.raises(ScenarioError):
        load(write(tmp_path, text))


def test_unknown_field_in_a_file(tmp_path):
    path = write(tmp_path, "[regime]\nmeasure = 'composite'\nforum_intervall = 3\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert str(path) in text and "regime.forum_intervall" in text and "unknown field" in text


def test_every_error_in_a_file_is_reported_at_once_on_one_line(tmp_path):
    path = write(tmp_path, '[context]\nuncertainty = 1.5\n[population]\nn_citizens = "lots"\n'
                           "[regime]\nforum_intervall = 3\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert text.startswith(f"{path}: 3 errors: (1) ")
    for part in ("context.uncertainty = 1.5", "allowed: a number in [0.0, 1.0]",
                 "population.n_citizens = 'lots'", "allowed: an integer in [1, 10000000]",
                 "unknown field 'regime.forum_intervall'; did you mean 'regime.forum_interval'?"):
        assert part in text


def test_of_merged_files_the_bad_one_is_named(tmp_path):
    good = write(tmp_path, "[regime]\nmeasure = 'composite'\n", "good.toml")
    bad = write(tmp_path, "[context]\ncontrol = 0.0\n", "bad.toml")
    for names in ((good, bad), (bad, good), ("target_driven", bad)):
        with pytest.raises(ScenarioError) as err:
            load(*names)
        assert message(err).startswith(f"{bad}: context.control = 0.0: ")


def test_unknown_section_in_a_file(tmp_path):
    with pytest.raises(ScenarioError) as err:
        load(write(tmp_path, "[regimen]\nmeasure = 'composite'\n"))
    assert "regimen" in message(err)


def test_bad_literal_in_a_file(tmp_path):
    path = write(tmp_path, "[regime.payment]\nmodel = 'bonus'\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert str(path) in text and "regime.payment.model" in text and "'bonus'" in text
    assert "'block_grant'" in text


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "[context\nuncertainty = 0.2\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    text = message(err)
    assert str(path) in text and "malformed TOML" in text and "line 1" in text


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("[context]\nname = 'Zürich'\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(path) in message(err)


def test_scalar_section_with_an_override(tmp_path):
    path = write(tmp_path, "regime = 5\n")
    with pytest.raises(ScenarioError) as err:
        load(path, overrides=["measure=composite"])
    assert str(path) in message(err) and "regime" in message(err)


def test_scalar_section_alone(tmp_path):
    path = write(tmp_path, "regime = 5\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(path) in message(err) and "regime" in message(err)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(path) in message(err) and "no such file" in message(err)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ScenarioError) as err:
        load("target_drivn")
    text = message(err)
    assert "target_drivn" in text and "target_driven" in text and "contexts/moderate" in text


def test_bad_override_in_load():
    with pytest.raises(ScenarioError) as err:
        load("target_driven", overrides=["uncertainty=2"])
    text = message(err)
    assert "context.uncertainty = 2" in text and "[0.0, 1.0]" in text
    with pytest.raises(ScenarioError) as err:
        load("target_driven", overrides={"n_providers": -1})
    assert "providers.n_providers = -1" in message(err)


# --- presets and merging -------------------------------------------------------------------------

def test_there_are_presets():
    names = {p.stem for p in PRESET_FILES}
    assert {"target_driven", "learning_oriented", "context_led", "complex_uncontrollable",
            "stable_controllable"} <= names
    assert len(PRESET_FILES) >= 9


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.relative_to(SCENARIOS).as_posix())
def test_every_preset_loads(path):
    sc = load(path)
    assert isinstance(sc, Scenario)
    by_name = load(path.relative_to(SCENARIOS).with_suffix("").as_posix())
    assert by_name == sc
    raw = presets.read_toml(path)
    for section, fields in raw.items():  # what the file says is what the scenario holds
        for key, value in fields.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    assert getattr(getattr(getattr(sc, section), key), k) == v
            else:
                assert getattr(getattr(sc, section), key) == value


def test_preset_names_match_their_regime_or_context():
    assert load("target_driven").regime.name == "target_driven"
    assert load("complex_uncontrollable").context.name == "complex_uncontrollable"
    assert load("contexts/stable_controllable").context.uncertainty == 0.1


def test_load_merges_a_regime_and_a_context():
    regime, context = load("learning_oriented"), load("complex_uncontrollable")
    both = load("learning_oriented", "complex_uncontrollable")
    assert both.regime == regime.regime
    assert both.context == context.context
    assert both.context != Scenario().context
    assert both.regime != Scenario().regime
    assert both.population == Scenario().population
    # later sections win, field by field
    override = load("learning_oriented", "complex_uncontrollable",
                    overrides={"uncertainty": 0.3, "grant_per_place": 123.0})
    assert override.context.uncertainty == 0.3 and override.context.control == 0.25
    assert override.regime.payment.grant_per_place == 123.0
    assert override.regime.payment.shared_risk == regime.regime.payment.shared_risk


def test_merge_is_deep():
    base = {"regime": {"name": "a", "payment": {"model": "outcomes", "audit_rate": 0.1}}}
    extra = {"regime": {"payment": {"audit_rate": 0.2}}, "context": {"control": 0.3}}
    assert presets.merge(base, extra) == {
        "regime": {"name": "a", "payment": {"model": "outcomes", "audit_rate": 0.2}},
        "context": {"control": 0.3}}
    assert base["regime"]["payment"]["audit_rate"] == 0.1  # inputs untouched


def test_load_without_names_gives_the_defaults():
    assert load() == Scenario()


# --- the schema ------------------------------------------------------------------------------------

def test_every_field_has_a_description_and_a_default():
    paths = field_paths()
    assert len(paths) > 60
    defaults = Scenario()
    for path, info in paths.items():
        assert info.description and info.description.strip(), path
        assert not info.is_required(), path
        node = defaults
        for part in path.split("."):
            node = getattr(node, part)
        assert node is not None, path


def test_bare_field_names_are_unique_except_names_and_descriptions():
    leaves = [p.rsplit(".", 1)[-1] for p in field_paths()]
    repeated = {leaf for leaf in leaves if leaves.count(leaf) > 1}
    assert repeated == {"name", "description"}


def test_allowed_describes_ranges_and_literals():
    paths = field_paths()
    assert S.allowed(paths["context.uncertainty"]) == "a number in [0.0, 1.0]"
    assert S.allowed(paths["world.effect_scale"]) == "a number in [0.001, 0.5]"
    assert S.allowed(paths["providers.n_providers"]) == "an integer in [0, 100000]"
    assert S.allowed(paths["regime.open_data"]) == "true or false"
    assert S.allowed(paths["regime.measure"]) == "one of 'threshold', 'composite'"


def test_summary_round_trips():
    sc = load("target_driven", "stable_controllable")
    assert Scenario.model_validate(sc.summary()) == sc
