"""The dashboard's controls, made from the scenario schema.

Every control's label, help text, bounds and choices come from the field's own definition in
``sim.scenario`` (its description, its ``ge``/``gt``/``le``/``lt`` metadata, its ``Literal``
choices), so the page and the schema cannot drift apart. Bounded shares and month counts get
sliders, which cannot leave their range; wide ranges (prices, budgets, weights) get number
fields, which refuse a value that the schema's own validation rejects and say what is allowed.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import solara

from sim.regime import LEVERS, PAYMENT_AND_MARKET
from sim.scenario import DOMAINS, ScenarioError, field_paths, unit

CHOICES = {"regime.measured_domain": DOMAINS}
"""Fields validated against a list rather than typed as a ``Literal``."""

POPULATION = "population.n_citizens"
POPULATION_SIZES = (250, 500, 1000, 2000, 5000, 10_000)
"""Population sizes offered: within the schema's bounds, and small enough to step in a blink."""

SLIDER_INT_SPAN = 600
"""Integer fields with a range up to this wide (months) get a slider; wider ones a number field."""


@dataclass(frozen=True)
class Control:
    """How one scenario field is shown.

    Attributes:
        path: the field's dotted path.
        kind: "switch", "select", "slider" or "number".
        label: the field's name in words, with its unit.
        help: one line: the field's description in the schema.
        low, high: the schema's bounds (None where it has none).
        step: the slider's step (None for other kinds).
        choices: the allowed values of a "select".
        integer: the field is an integer.
    """

    path: str
    kind: str
    label: str
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    integer: bool = False


def control(path: str) -> Control:
    """The control for one scenario field, from its schema definition."""
    info = field_paths()[path]
    name = path.rsplit(".", 1)[-1].replace("_", " ")
    label = f"{name} ({unit(info)})" if unit(info) else name
    common = dict(path=path, label=label, help=help_text(info.description))
    if info.annotation is bool:
        return Control(kind="switch", **common)
    if typing.get_origin(info.annotation) is Literal or path in CHOICES:
        return Control(kind="select", choices=CHOICES.get(path) or typing.get_args(info.annotation),
                       **common)
    low, high = bounds(info)
    integer = info.annotation is int
    if integer and low is not None and high is not None and high - low <= SLIDER_INT_SPAN:
        return Control(kind="slider", low=low, high=high, step=1, integer=True, **common)
    if not integer and low is not None and high is not None and 0 <= low and high <= 1:
        return Control(kind="slider", low=low, high=high, step=0.01, **common)
    return Control(kind="number", low=low, high=high, integer=integer, **common)


def bounds(info: Any) -> tuple[float | None, float | None]:
    """The schema's lower and upper bounds of a numeric field (open or closed alike)."""
    limits = {name: getattr(meta, name) for meta in info.metadata for name in ("ge", "gt", "le", "lt")
              if getattr(meta, name, None) is not None}
    return limits.get("ge", limits.get("gt")), limits.get("le", limits.get("lt"))


def help_text(description: str) -> str:
    """A field's description as a help line: without the 'Lever 3:' prefix that the panel's
    heading already says.
    """
    text = re.sub(r"^Lever \d+(, [^:]+)?: ", "", description)
    return text[:1].upper() + text[1:]


def value_at(data: dict[str, Any], path: str) -> Any:
    """A field's value in a scenario's ``model_dump()``, by dotted path."""
    for part in path.split("."):
        data = data[part]
    return data


def lever_groups() -> list[tuple[str, str, tuple[str, ...]]]:
    """The control panels: each of the seven principles, then the payment model and market."""
    groups = [(f"{lever.number}. {lever.principle}", lever.summary, lever.fields) for lever in LEVERS]
    groups.append(("Payment and market", "How providers are paid, and the market's rules.",
                   PAYMENT_AND_MARKET))
    return groups


@solara.component
def Help(text: str):
    """A control's one-line help text, under it."""
    solara.Text(text, classes=["commsim-help"], style={"font-size": "0.78em", "color": "#666",
                                                        "display": "block", "margin": "-6px 0 10px"})


@solara.component
def FieldControl(spec: Control, value: Any, on_value: Callable[[Any], None]):
    """One scenario field as a widget, its help line and, after a refused value, why.

    ``on_value`` may raise ``ScenarioError``: the value is then refused and the reason shown.
    """
    error, set_error = solara.use_state(None)

    def change(new: Any) -> None:
        if new is None:  # a number field left empty
            set_error("enter a number")
            return
        try:
            on_value(new)
        except ScenarioError as refused:  # the schema's own check, with its allowed range
            set_error(str(refused).removeprefix("--set: "))
        else:
            set_error(None)

    if spec.kind == "switch":
        solara.Checkbox(label=spec.label, value=value, on_value=change)
    elif spec.kind == "select":
        solara.Select(spec.label, values=list(spec.choices), value=value, on_value=change)
    elif spec.kind == "slider":
        slider = solara.SliderInt if spec.integer else solara.SliderFloat
        slider(spec.label, value=value, min=spec.low, max=spec.high, step=spec.step, on_value=change)
    else:
        number = solara.InputInt if spec.integer else solara.InputFloat
        number(spec.label, value=value, on_value=change, optional=True)
    Help(spec.help)
    if error:
        solara.Text(error, classes=["commsim-refused"], style={"color": "#b00020", "font-size": "0.8em"})
