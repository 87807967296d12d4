"""Every measure and caseload column the dashboard reads, in one place.

The model's measure names will change (intent-to-treat outcomes are coming, and the in-service
averages will be renamed): a rename is one edit here. Each view lists what it plots as
``Measure``s; the labels are what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """A column of ``CommissioningModel.results()`` and how the page names it."""

    name: str
    label: str


MONTH = "month"
"""The month column of ``results()`` (0 = the start)."""

MEAN_WELLBEING = Measure("mean_wellbeing", "wellbeing, everyone")
HARDEST_WELLBEING = Measure("hardest_wellbeing", "wellbeing, hardest to help")
EQUITY_GAP = Measure("equity_gap", "equity gap (lightest minus hardest)")
MEASURE_VALUE = Measure("measure_value", "paid-for measure, as reported")
TRUE_OUTCOME = Measure("true_outcome", "the same threshold on true wellbeing")
GOODHART_GAP = Measure("goodhart_gap", "Goodhart gap")
COMMISSIONER_KNOWLEDGE = Measure("commissioner_knowledge", "commissioner's knowledge")
PROVIDER_KNOWLEDGE = Measure("provider_knowledge", "providers' knowledge (mean)")
SYSTEM_KNOWLEDGE = Measure("system_knowledge", "system's knowledge (best-informed actor)")
SPEND = Measure("spend", "spend this month (GBP)")
SPEND_TOTAL = Measure("spend_total", "spend so far (GBP)")
WELLBEING_GAINED_TOTAL = Measure("wellbeing_gained_total", "wellbeing gained so far")
PROVIDERS = Measure("providers", "providers holding contracts")
REPLACED_TOTAL = Measure("provider_replaced_total", "replaced at re-tendering, so far")
EXITS_TOTAL = Measure("provider_exits_total", "failed (ran out of cash), so far")
MEAN_TRUST = Measure("mean_trust", "providers' mean trust")
FALSE_REPORTS = Measure("false_reports", "false outcome reports this month")
DETECTED_GAMING = Measure("detected_gaming", "of which detected")
WAITING = Measure("waiting", "waiting")
SERVED = Measure("served", "served")
PARKED = Measure("parked", "parked")
REFUSED = Measure("refused", "refused this month")

COST_PER_WELLBEING = "cost per unit of wellbeing gained (GBP)"
"""Derived by the dashboard: spend so far over wellbeing gained so far."""

UNDETECTED_GAMING = "undetected false reports"
"""Derived by the dashboard: false reports this month less those detected."""

SIDE_BY_SIDE = (MEAN_WELLBEING, HARDEST_WELLBEING, COMMISSIONER_KNOWLEDGE, GOODHART_GAP)
"""What the side-by-side view plots for both regimes, and their difference."""

KNOWLEDGE = (COMMISSIONER_KNOWLEDGE, PROVIDER_KNOWLEDGE, SYSTEM_KNOWLEDGE)

CASELOAD_STATES = (SERVED, PARKED, REFUSED)
"""Columns of ``caseload_picture()`` per provider slot, in the order the system view shows them."""

CASELOAD_SLOT, CASELOAD_SEGMENT, QUEUE_SLOT = "slot", "segment", -1
"""``caseload_picture()``'s keys: provider slot and segment; the queue's rows have slot -1."""
