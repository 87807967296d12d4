"""Whatever a user types: scenario files and ``--set`` values drawn from the schema itself (every
field's type and bounds, from ``sim.scenario.field_paths``), valid and invalid.

A valid draw runs a few months at small sizes with finite, in-range measures and conserved
citizens and money (``conftest.check_month``, every month). An invalid one, through the real
command line, ends with exit code 2 and exactly one line on stderr naming where the bad value came
from, with no traceback and nothing written.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from annotated_types import MaxLen, MinLen
from conftest import CHECKOUT_ENV, MAY_BE_NAN, check_month
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.model import CommissioningModel
from sim.presets import load
from sim.scenario import field_paths, limits, list_item, smallest_positive

FIELDS = field_paths()
SMALL = {"population.n_citizens": 150, "providers.n_providers": 5, "providers.capacity": 40}
"""The most of each size a valid draw uses (within the schema's bounds), so that a run of a few
months takes hundredths of a second."""
MONTHS = 3
FILE = "drawn.toml"
PRESETS = ["target_driven", "learning_oriented", "context_led", "hybrid_outcomes_learning",
           "hybrid_targets_with_forums"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
NOT_A_NUMBER = st.sampled_from(["many", True, [1.0]])


# --- what the schema allows, and what it does not ------------------------------------------------------

def number_range(constraints: list[Any]) -> tuple[float, float, bool]:
    """A numeric field's (low, high, whether low itself is out) from its constraints."""
    found = limits(constraints)
    return found.get("ge", found.get("gt")), found["le"], "gt" in found


def valid(path: str) -> st.SearchStrategy:
    """Values the schema allows for the field at ``path`` (sizes capped at SMALL)."""
    info = FIELDS[path]
    kind = info.annotation
    if typing.get_origin(kind) is Literal:
        return st.sampled_from(typing.get_args(kind))
    if kind is bool:
        return st.booleans()
    if kind is str:
        return TEXT
    if kind is int:
        low, high, _ = number_range(info.metadata)
        return st.integers(int(low), int(min(high, SMALL.get(path, high))))
    if kind is float:
        low, high, open_low = number_range(info.metadata)
        floor = smallest_positive(info)
        if floor is not None:  # money: none, or at least a penny
            return st.just(0.0) | st.floats(floor, high)
        return st.floats(low, high, exclude_min=open_low)
    return segment_mixes(info)


def segment_mixes(info: Any) -> st.SearchStrategy:
    """Lists of weights of the allowed length, each in range, with a positive sum."""
    lengths = {type(m): m for m in info.metadata}
    low, high, _ = number_range(list_item(info)[1])
    return st.lists(st.floats(low, high), min_size=lengths[MinLen].min_length,
                    max_size=lengths[MaxLen].max_length).filter(lambda mix: sum(mix) > 0)


def invalid(path: str) -> st.SearchStrategy:
    """Values the schema refuses for the field at ``path``: out of range, NaN or infinite, below a
    penny, of the wrong type, or not one of the choices.
    """
    info = FIELDS[path]
    kind = info.annotation
    if typing.get_origin(kind) is Literal:
        return TEXT.filter(lambda text: text not in typing.get_args(kind)) | st.integers()
    if kind is bool:
        return st.sampled_from([0, 1, "yes", 1.0])
    if kind is str:
        return st.integers() | st.booleans() | st.just(["a"])
    if typing.get_origin(kind) is list:
        return st.one_of(st.lists(st.floats(0.1, 1.0), max_size=1),  # too short
                         st.lists(st.just(1.0), min_size=13, max_size=14),  # too long
                         st.lists(st.just(0.0), min_size=2, max_size=12),  # no positive sum
                         st.sampled_from([[math.nan, 1.0], [math.inf, 1.0], [-1.0, 1.0], [2e6, 1.0], "lots"]))
    low, high, open_low = number_range(info.metadata)
    outside = [st.floats(min_value=high, exclude_min=True, allow_infinity=False),
               st.floats(max_value=low, exclude_max=not open_low, allow_infinity=False)]
    if kind is int:  # TOML's integers are 64-bit; a float is never an integer (strict types)
        outside = [st.integers(int(high) + 1, 2**63 - 1), st.integers(-(2**63), int(low) - 1),
                   st.floats(low, high)]
    floor = smallest_positive(info)
    if floor is not None:
        outside.append(st.floats(0.0, floor, exclude_min=True, exclude_max=True))
    return st.one_of(*outside, st.sampled_from([math.nan, math.inf, -math.inf]), NOT_A_NUMBER)


def toml(value: Any) -> str:
    """A value as TOML writes it (for a file, or the right of ``--set field=``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) \
            else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string, for these characters
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return str(value)


def toml_file(fields: dict[str, Any]) -> str:
    """A scenario file setting ``fields`` (dotted paths) in their sections."""
    tables: dict[str, list[str]] = {}
    for path, value in fields.items():
        table, leaf = path.rsplit(".", 1)
        tables.setdefault(table, []).append(f"{leaf} = {toml(value)}")
    return "".join(f"[{table}]\n" + "\n".join(lines) + "\n" for table, lines in tables.items())


def as_set(path: str, value: Any, bare: bool) -> str:
    """``--set``'s argument, naming the field by its path or by its bare name where that is unique."""
    leaf = path.rsplit(".", 1)[-1]
    unique = sum(p.rsplit(".", 1)[-1] == leaf for p in FIELDS) == 1
    return f"{leaf if bare and unique else path}={toml(value)}"


@st.composite
def inputs(draw: st.DrawFn, bad: bool) -> tuple[str, dict[str, Any], list[str], str | None, str]:
    """A regime preset, up to 8 valid fields, some in a file and the others as ``--set``, and with
    ``bad`` one more field with a value the schema refuses, or a field that does not exist.

    Returns the preset, the file's fields, the ``--set`` arguments, the bad field's name as given
    (or None) and where it went (``file`` or ``--set``).
    """
    preset = draw(st.sampled_from(PRESETS))
    paths = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=8, unique=True))
    in_file, sets = {}, []
    for path in paths:
        value = draw(valid(path))
        if draw(st.booleans()):
            in_file[path] = value
        else:
            sets.append(as_set(path, value, draw(st.booleans())))
    where = draw(st.sampled_from(["file", "--set"]))
    if not bad:
        return preset, in_file, sets, None, where
    if draw(st.integers(0, 9)) == 0:  # a field that does not exist
        name = draw(st.sampled_from(["population.n_citizenz", "context.uncertanty", "regime.colour"]))
        value: Any = 1
    else:
        name = draw(st.sampled_from(sorted(set(FIELDS) - set(paths))))
        value = draw(invalid(name))
    if where == "file":
        in_file[name] = value
    else:
        sets.append(f"{name}={toml(value)}")
    return preset, in_file, sets, name, where


def examples(n: int) -> settings:
    """Hypothesis's settings for ``n`` examples that each run a model or a command (no deadline)."""
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def scenario_args(folder: Path, preset: str, in_file: dict[str, Any], sets: list[str]) -> list[str]:
    """The command line's scenario arguments: the preset, the file (if any fields are in it), then
    each ``--set``.
    """
    args = [preset]
    if in_file:
        path = folder / FILE
        path.write_text(toml_file(in_file), encoding="utf-8")
        args.append(str(path))
    return args + [a for s in sets for a in ("--set", s)]


# --- valid input runs, with everything conserved --------------------------------------------------------

@examples(40)
@given(drawn=inputs(bad=False), seed=st.integers(0, 2**32 - 1))
def test_valid_input_runs_with_finite_in_range_measures_and_conserves_citizens_and_money(drawn, seed):
    preset, in_file, sets, _, _ = drawn
    with tempfile.TemporaryDirectory() as folder:
        files = scenario_args(Path(folder), preset, in_file, [])
        scenario = load(*files, overrides=sets)  # the command line's own way to a scenario
    small = scenario.with_overrides({path: min(most, value_at(scenario, path))
                                     for path, most in SMALL.items()})
    model = CommissioningModel(scenario=small, rng=seed)
    payment = small.regime.payment
    check_month(model, payment.budget_per_month, payment.allow_overspend)
    for _ in range(MONTHS):
        model.step()
        check_month(model, payment.budget_per_month, payment.allow_overspend)


def value_at(scenario: Any, path: str) -> Any:
    for part in path.split("."):
        scenario = getattr(scenario, part)
    return scenario


@contextmanager
def commsim_run(drawn: tuple, *options: str) -> Iterator[tuple[Any, Path, Path]]:
    """``commsim run`` on a drawn input, in a folder of its own: (result, results folder, file)."""
    preset, in_file, sets, _, _ = drawn
    with tempfile.TemporaryDirectory() as folder:
        args = scenario_args(Path(folder), preset, in_file, sets)
        out = Path(folder) / "out"
        yield CliRunner().invoke(app, ["run", *args, *options, "--out", str(out)]), out, Path(folder) / FILE


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font:UserWarning")  # a drawn name, in a title
@examples(3)
@given(drawn=inputs(bad=False))
def test_valid_input_runs_through_the_command_line(drawn):
    sizes = [a for path, most in SMALL.items() for a in ("--set", f"{path}={most}")]
    with commsim_run(drawn, *sizes, "--steps", "2") as (result, out, _):
        assert result.exit_code == 0, result.output
        table = pd.read_parquet(out / "results.parquet").select_dtypes("number")
        assert len(table) == 3
        for name, values in table.items():  # finite, or NaN where there is nothing to measure
            assert (np.isfinite(values) | (name in MAY_BE_NAN and values.isna())).all(), name


# --- invalid input: one line, exit 2, no traceback, nothing written -------------------------------------

@examples(120)
@given(drawn=inputs(bad=True))
def test_invalid_input_is_one_line_exit_2_naming_its_source_and_field(drawn):
    *_, name, where = drawn
    with commsim_run(drawn) as (result, out, file):
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        source = str(file) if where == "file" else "--set"
        assert lines[0].startswith(f"commsim: error: {source}: "), lines[0]
        assert name.rsplit(".", 1)[-1] in lines[0] and not out.exists()


def test_invalid_input_through_a_real_process(tmp_path):
    """The same as the command line's own process sees it: a NaN in a file, an unknown --set."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[population]\nsegment_mix = [nan, 1.0]\n")
    for args, source in (([str(bad)], str(bad)), (["target_driven", "--set", "uncertanty=0.8"], "--set")):
        proc = subprocess.run([sys.executable, "-m", "sim", "run", *args, "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=120, env=CHECKOUT_ENV)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert line.startswith(f"commsim: error: {source}")
    assert not (tmp_path / "out").exists()
