"""Print the scenario parameters as a Markdown table, for the "Parameters" section of docs/ODD.md.

The table is generated from the schema in ``sim.scenario`` (every leaf field's dotted path,
description, unit, default and allowed values), so the documentation cannot drift from the code.

Usage (from the repository root):

    .venv/bin/python docs/make_parameter_table.py            # print the table
    .venv/bin/python docs/make_parameter_table.py --check    # exit 1 if docs/ODD.md's table differs
    .venv/bin/python docs/make_parameter_table.py --write    # rewrite the table in docs/ODD.md

In ODD.md the table sits between the lines ``<!-- parameters:start -->`` and
``<!-- parameters:end -->``; everything between those two lines is exactly what this script prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic_core import PydanticUndefined  # noqa: E402

import sim.scenario  # noqa: E402

ODD = HERE / "ODD.md"
START = "<!-- parameters:start -->"
END = "<!-- parameters:end -->"


def default_of(info: Any) -> Any:
    """A field's default, calling its default factory if it has one."""
    if info.default is not PydanticUndefined:
        return info.default
    return info.get_default(call_default_factory=True)


def show(value: Any) -> str:
    """A default as it would be written in a scenario file (TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table() -> str:
    """The parameter table, one row per scenario field, ending with a newline."""
    rows = ["| Path | Description | Unit | Default | Allowed |",
            "|---|---|---|---|---|"]
    for path, info in sim.scenario.field_paths().items():
        rows.append("| " + " | ".join([
            f"`{path}`",
            cell(info.description or ""),
            cell(sim.scenario.unit(info)),
            f"`{cell(show(default_of(info)))}`",
            cell(sim.scenario.allowed(info)),
        ]) + " |")
    return "\n".join(rows) + "\n"


def split(text: str) -> tuple[str, str, str]:
    """ODD.md as (everything up to and including the start line, the table, the end line onwards)."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == START)
        end = next(i for i, line in enumerate(lines) if line.strip() == END and i > start)
    except StopIteration:
        raise SystemExit(f"{ODD}: missing the lines {START} and {END}") from None
    return "".join(lines[:start + 1]), "".join(lines[start + 1:end]), "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true",
                       help="exit 1 if the table in docs/ODD.md differs from the generated one")
    group.add_argument("--write", action="store_true",
                       help="rewrite the table in docs/ODD.md in place")
    args = parser.parse_args(argv)
    generated = table()
    if not (args.check or args.write):
        sys.stdout.write(generated)
        return 0
    head, current, tail = split(ODD.read_text(encoding="utf-8"))
    if args.check:
        if current != generated:
            print(f"{ODD}: the parameter table is out of date; run {Path(__file__).name} --write",
                  file=sys.stderr)
            return 1
        return 0
    if current != generated:
        ODD.write_text(head + generated + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
