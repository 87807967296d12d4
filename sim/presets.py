"""Scenario files: finding presets by name, reading TOML, merging files and applying overrides.

The one place that reads scenario files. The model core takes a validated ``Scenario``; the
command line, experiments and the model's own convenience (``CommissioningModel(scenario=
"learning_oriented")``) come here for files and preset names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.scenario import Scenario, ScenarioError, apply_overrides, validate


def scenario_dirs() -> list[Path]:
    """Where presets live: inside the installed package, or the checkout's ``scenarios/``."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "scenarios", here.parent / "scenarios") if d.is_dir()]


def preset_paths() -> dict[str, Path]:
    """Every preset by name: regimes by file stem, contexts as ``contexts/<stem>``."""
    found: dict[str, Path] = {}
    for root in reversed(scenario_dirs()):
        for path in sorted(root.rglob("*.toml")):
            rel = path.relative_to(root).with_suffix("")
            if rel.parts[0] == "sweeps":
                continue
            found[rel.as_posix()] = path
    return found


def find_file(name: str | Path) -> Path:
    """A scenario file named by path or by preset name."""
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        return path
    presets = preset_paths()
    for key in (str(name), f"contexts/{name}"):
        if key in presets:
            return presets[key]
    if path.suffix == ".toml":
        raise ScenarioError(f"{name}: no such file")
    raise ScenarioError(f"{name}: no such file or preset (presets: {', '.join(sorted(presets))})")


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; ScenarioError (one line) if it cannot be read, is not UTF-8 or is not TOML."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: malformed TOML: {err}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text (TOML files must be UTF-8)") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read: {err.strerror}") from None


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: sections combine, later values win."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(*names: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """Load and merge scenario files (paths or preset names), then apply overrides.

    Args:
        names: regime and/or context files, merged in order (later sections win).
        overrides: ``["context.uncertainty=0.8", ...]`` or ``{"uncertainty": 0.8}``.

    Raises:
        ScenarioError: one line naming the file, the field, the value and what is allowed.
    """
    data: dict[str, Any] = {}
    sources = []
    for name in names:
        path = find_file(name)
        sources.append(str(path))
        tables = read_toml(path)
        validate(tables, source=str(path))  # alone, so that a bad file is named alone
        data = merge(data, tables)
    scenario = validate(data, source=" + ".join(sources) or "defaults")
    if not overrides:
        return scenario
    return apply_overrides(data, overrides, source="overrides" if isinstance(overrides, dict) else "--set")


def preset_description(path: Path) -> str:
    """The one-line description at the top of a preset (its regime or context name and text)."""
    data = read_toml(path)
    regime = data.get("regime", {})
    context = data.get("context", {})
    return regime.get("description") or context.get("description") or ""
