"""The dashboard page: controls grouped by the seven principles, views of two regimes in lockstep.

Built from Mesa's visualisation (``mesa.visualization``): its ``ModelController`` runs the pair
of regimes (play, pause, step, reset, at the chosen speed) and its update counter redraws the
views after every step. Serve it with ``commsim dashboard``, or show it in Jupyter::

    from sim.dashboard import Dashboard
    Dashboard()
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import markdown
import solara
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import force_update, update_counter

from sim.dashboard import controls as c
from sim.dashboard import views
from sim.dashboard.pair import SIDES, Design, Pair, context_presets, describe_preset, regime_presets
from sim.regime import LEVERS
from sim.scenario import ScenarioError

REGIME_ENV, CONTEXT_ENV = "COMMSIM_DASHBOARD_REGIME", "COMMSIM_DASHBOARD_CONTEXT"
"""How ``commsim dashboard`` tells the served page which regime and context to open with."""

SPEED = 200
"""Milliseconds between months while playing, at the start."""

NONE, ALONE = "none", "Regime A runs alone."
"""Regime B's choice of no regime, and its help line."""

SEED_HELP = ("Both regimes face the world drawn from this seed: the same citizens, shocks and true "
             "effects. Another seed, another world.")

STYLE = """
.commsim-latest table { border-collapse: collapse; margin: 6px 0 10px; }
.commsim-latest th, .commsim-latest td { padding: 2px 12px; border-bottom: 1px solid #ddd; }
.commsim-latest td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
"""

Redesign = Callable[[Callable[[Design], Design]], None]
"""Applies a change to the design (it may raise ``ScenarioError``, leaving the design as it was)."""


@solara.component
def Dashboard(regime: str = "learning_oriented", context: str = "moderate",
              against: str = "target_driven"):
    """The whole page.

    Args:
        regime: regime B, the design whose levers the page opens on.
        context: the context both regimes run in.
        against: regime A, the comparison.
    """
    initial = solara.use_memo(lambda: Design(regimes=(against, regime), context=context), [])
    first = solara.use_memo(lambda: Pair(design=initial), [])
    model = solara.use_reactive(first)
    parameters = solara.use_reactive({"design": initial})  # Mesa's Reset rebuilds the pair from these
    speed = solara.use_reactive(SPEED)
    months_per_step = solara.use_reactive(1)
    threads = solara.use_reactive(False)  # Mesa's option to step in one thread and draw in another
    design = parameters.value["design"]

    def redesign(change: Callable[[Design], Design]) -> None:
        new = change(parameters.value["design"])
        parameters.value = {"design": new}
        model.value.redesign(new)
        force_update()

    solara.Style(STYLE)
    with solara.AppBar():
        solara.AppBarTitle("commsim: commissioning regimes side by side")
    with solara.Sidebar():
        with solara.Card("Run", margin=0):
            ModelController(model, model_parameters=parameters, play_interval=speed,
                            render_interval=months_per_step, use_threads=threads)
            solara.SliderInt("pause between months (ms)", value=speed, min=0, max=1000, step=10)
            c.Help("Speed while playing: less pause, faster months.")
            solara.SliderInt("months per step", value=months_per_step, min=1, max=24)
            c.Help("Months each press of Step (or each redraw while playing) moves on.")
        DesignControls(design, redesign)
        LeverControls(design, redesign)
    Views(model.value)


@solara.component
def DesignControls(design: Design, redesign: Redesign):
    """The regimes, the context, the population size and the seed."""
    regimes = regime_presets() + [r for r in design.regimes if r and r not in regime_presets()]
    contexts = context_presets() + ([design.context] if design.context not in context_presets() else [])
    shared = design.scenario(0).model_dump()  # the context and population both regimes share
    with solara.Card("Regimes and world", margin=0):
        regime_choice(design, 0, regimes, redesign)
        regime_choice(design, 1, [*regimes, NONE], redesign)
        c.FieldControl(choice("context", contexts, describe_preset(design.context)), design.context,
                       lambda name: redesign(lambda d: d.with_context(name)))
        for path in ("context.uncertainty", "context.control"):
            c.FieldControl(c.control(path), c.value_at(shared, path),
                           lambda value, path=path: redesign(lambda d: d.with_world(path, value)))
        size = c.value_at(shared, c.POPULATION)
        sizes = dataclasses.replace(c.control(c.POPULATION), kind="select", label="population size",
                                    choices=tuple(sorted({*c.POPULATION_SIZES, size})))
        c.FieldControl(sizes, size, lambda value: redesign(lambda d: d.with_world(c.POPULATION, value)))
        seed = c.Control(path="seed", kind="number", label="seed", help=SEED_HELP, low=0, integer=True)
        c.FieldControl(seed, design.seed, lambda value: redesign(lambda d: d.with_seed(checked_seed(value))))


def choice(label: str, choices: list[str], help: str) -> c.Control:
    """A select of presets (not a scenario field)."""
    return c.Control(path=label, kind="select", label=label, choices=tuple(choices), help=help)


def regime_choice(design: Design, side: int, choices: list[str], redesign: Redesign) -> None:
    """The preset of one side (B may be none)."""
    name = design.regimes[side]
    c.FieldControl(choice(f"regime {SIDES[side]}", choices, describe_preset(name) or ALONE), name or NONE,
                   lambda picked: redesign(lambda d: d.with_regime(side, None if picked == NONE else picked)))


def checked_seed(seed: int) -> int:
    """A seed the model accepts (a non-negative integer).

    Raises:
        ScenarioError: a negative seed.
    """
    if seed < 0:
        raise ScenarioError(f"seed = {seed}: must be 0 or more")
    return seed


@solara.component
def LeverControls(design: Design, redesign: Redesign):
    """Every lever field of one regime, grouped by the seven principles, then payment and market."""
    side, set_side = solara.use_state(1)
    side = min(side, len(design.sides) - 1)  # B switched off: A's levers
    values = design.scenario(side).model_dump()
    with solara.Card("Levers", margin=0):
        solara.ToggleButtonsSingle(value=SIDES[side], values=list(SIDES[: len(design.sides)]),
                                   on_value=lambda letter: set_side(SIDES.index(letter)))
        c.Help(f"Changes apply to regime {SIDES[side]} from month 0, on the same world.")
        for title, summary, paths in c.lever_groups():
            with solara.Details(summary=title):
                c.Help(summary)
                for path in paths:
                    c.FieldControl(c.control(path), c.value_at(values, path),
                                   lambda value, path=path: redesign(
                                       lambda d: d.with_lever(side, path, value)))


@solara.component
def Views(pair: Pair):
    """The views as tabs, the About panel last; only the open tab is drawn."""
    tab, set_tab = solara.use_state(0)
    with solara.lab.Tabs(value=tab, on_value=set_tab):
        for view in views.VIEWS:
            solara.lab.Tab(view.title)
        solara.lab.Tab("About this model")
    if tab < len(views.VIEWS):
        ViewPanel(views.VIEWS[tab], pair)
    else:
        About()


@solara.component
def ViewPanel(view: views.View, pair: Pair):
    """One view: its month, its figure, its latest numbers and what it means."""
    counter = update_counter.get()  # Mesa's: bumped after every step and every change of design
    canvas = solara.use_memo(lambda: views.Canvas(view, len(pair.runs)), [view.title, len(pair.runs)])
    with pair.lock:
        figure = canvas.paint(pair)
        head, rows = views.latest(pair.results(), pair.labels(), view.numbers)
        month = pair.month
    with solara.Column(classes=["commsim-view"]):
        solara.Text(f"Month {month}", classes=["commsim-month"], style={"font-weight": "bold"})
        solara.FigureMatplotlib(figure, format="png", dependencies=[counter, month, id(pair), view.title])
        Markdown(markdown_table(head, rows), classes=["commsim-latest"])
        solara.Text(view.what, style={"color": "#444"})


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A table in Markdown."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@solara.component
def Markdown(text: str, classes: list[str] | None = None):
    """Markdown, made into HTML here.

    Not ``solara.Markdown``: that loads mermaid from a CDN on every page, which fails offline.
    """
    solara.HTML(tag="div", unsafe_innerHTML=markdown.markdown(text, extensions=["tables"]),
                classes=classes or [])


ABOUT = """
**commsim** simulates how a public service is commissioned. A commissioner pays providers to
support citizens with complex needs; the providers choose whom to take on, how to help them and
what to report, and learn what works for whom; the commissioner pays, audits and re-tenders, and
learns from what reaches it. How it holds providers to account is set by seven levers, from
*target-driven* (payment by results on a narrow measure, league tables, re-tendering) to
*learning-oriented* (shared purpose, trust-based funding, measures of what citizens value,
learning forums). The model is stylised: it shows mechanisms, not forecasts for a place.

The two regimes on this page run on the same world (the same citizens, arrivals, shocks and true
effects of each approach), so the difference between them, month by month, is the regimes' doing.
"""


@solara.component
def About():
    """The model in a few sentences, the seven principles, the views and where to read more."""
    Markdown(about_text(), classes=["commsim-about"])


def about_text() -> str:
    """The About panel, in Markdown: the principles from ``LEVERS``, the views from ``VIEWS``."""
    principles = "\n".join(f"{lever.number}. **{lever.principle}**: {lever.summary}" for lever in LEVERS)
    meanings = "\n".join(f"- **{view.title}**: {view.what}" for view in views.VIEWS)
    return f"""{ABOUT}
### The seven principles

The levers follow the seven principles of the note on learning and accountability by GO Lab (the
Government Outcomes Lab, University of Oxford) and Collaborate CIC (2020); the controls are
grouped by them:

{principles}

### The views

{meanings}

### Read more

- `docs/ODD.md` in the repository: the model in full (the ODD protocol: entities, process,
  every equation and parameter).
- `docs/validation.md`: the model against the published patterns it must reproduce, with
  paired replicates and confidence intervals.
- `commsim fields` lists every scenario field with its meaning and allowed range.
"""


@solara.component
def Page():
    """The page ``commsim dashboard`` serves, opening on the regime and context it was given."""
    Dashboard(regime=os.environ.get(REGIME_ENV, "learning_oriented"),
              context=os.environ.get(CONTEXT_ENV, "moderate"))
