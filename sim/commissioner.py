"""The commissioner: learns from what reaches it, pays, audits, reviews, re-tenders (ODD 2.3).

Everything it does is a method of its own: it receives providers' case reports, hears citizens'
voice, sees the pool, pays within its budget, audits reports and claws back, re-assesses the
context (lever 6) and reviews its measure (lever 5), and chooses whom to replace at re-tendering.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim import beliefs, gaming
from sim.learning import PSEUDO_REPORTS
from sim.regime import BOUNDARY, Regime, ebrahim_strategy
from sim.world import PROFILE


def pro_rata(due: np.ndarray, budget: float, allow_overspend: bool) -> np.ndarray:
    """What is actually paid: everything due, or scaled down so the total stays within budget."""
    total = due.sum()
    if allow_overspend or total <= budget:
        return due
    return due * (budget / total)


def lagged_products(new: np.ndarray, two_months_before: np.ndarray,
                    prior_mean: np.ndarray) -> np.ndarray:
    """A month's terms of the sums behind the uncertainty estimate, per cell (..., 2).

    ``new`` is this month's evidence and ``two_months_before`` all evidence up to two months ago
    (both forgotten alike, sufficient statistics as in ``sim.beliefs``). Their departure
    information, ``information - prior_mean * precision``, is precision times the departure of
    the data-only estimate from the published evidence. The products of their precisions
    (``[..., 0]``) and of their departure information (``[..., 1]``) pair this month with every
    month at least two before it: the noise of two such months shares nothing (a shock lasts a
    month, and an assessment error enters the changes of two consecutive months only), so the
    second product's expectation is the first times the squared departure of the effect.
    """
    def departure(evidence: np.ndarray) -> np.ndarray:
        return evidence[..., beliefs.INFORMATION] - prior_mean * evidence[..., beliefs.PRECISION]

    return np.stack([new[..., beliefs.PRECISION] * two_months_before[..., beliefs.PRECISION],
                     departure(new) * departure(two_months_before)], axis=-1)


def squared_uncertainty(products: np.ndarray, precision: np.ndarray, prior_sd: np.ndarray,
                        reference_sd: np.ndarray) -> float | None:
    """The method-of-moments estimate of the squared uncertainty (unbiased; may fall outside 0..1).

    In each informed cell (data precision above ``1 / prior_sd^2``, with months two apart) the
    ratio of the sums of products (``lagged_products``) estimates the squared departure of the
    effect from the published evidence without bias, whatever the noise; summed over the cells
    and divided by the summed squared departure at uncertainty 1 (``reference_sd^2``), it
    estimates uncertainty^2. None when no cell is informed; 0 when effects cannot depart at all.
    """
    informed = (precision > 1.0 / prior_sd**2) & (products[..., 0] > 0)
    if not informed.any():
        return None
    if not (reference_sd > 0).any():  # effects cannot depart from the evidence at all
        return 0.0
    informed &= reference_sd > 0  # a cell whose effect cannot depart says nothing of the scale
    if not informed.any():
        return None
    departure_sq = products[informed, 1] / products[informed, 0]
    return float(departure_sq.sum() / (reference_sd[informed] ** 2).sum())


def estimate_uncertainty(products: np.ndarray, precision: np.ndarray, prior_sd: np.ndarray,
                         reference_sd: np.ndarray) -> float | None:
    """How far local effects depart from the published evidence, on the 0..1 uncertainty scale:
    the square root of ``squared_uncertainty``, clipped to 0..1 (None without informed cells).
    """
    moment = squared_uncertainty(products, precision, prior_sd, reference_sd)
    return None if moment is None else float(np.sqrt(np.clip(moment, 0.0, 1.0)))


def cell_residuals(cell: np.ndarray, effort: np.ndarray, z: np.ndarray,
                   n_cells: int) -> tuple[float, float]:
    """The residual sum of squares of one month's observations about each cell's own fit, and its
    degrees of freedom.

    Within a month every observation of a cell shares its true effect, so the least-squares fit
    ``z = b * effort`` in each cell leaves residuals that hold the noise alone: their sum of
    squares has expectation (observations - cells fitted) * noise variance, whatever the effects
    and whatever anyone believes them to be.
    """
    see = np.bincount(cell, weights=effort * effort, minlength=n_cells)
    sez = np.bincount(cell, weights=effort * z, minlength=n_cells)
    fitted = see > 0
    return float(z @ z - (sez[fitted] ** 2 / see[fitted]).sum()), float(len(z) - fitted.sum())


def estimate_control(residual_ss: float, residual_n: float, measurement_sd: float,
                     effect_scale: float) -> float | None:
    """Share of outcome variance due to providers' actions, from the noise in observed changes.

    ``residual_ss / residual_n`` estimates the noise variance of one observation (``cell_residuals``):
    shocks plus two measurement errors. Shocks of variance s^2 mean a control of
    effect_scale^2 / (effect_scale^2 + s^2) (see ``world.shock_sd``). None below 30 degrees of
    freedom.
    """
    if residual_n < 30:
        return None
    shock_var = max(residual_ss / residual_n - 2 * measurement_sd**2, 0.0)
    return float(effect_scale**2 / (effect_scale**2 + shock_var))


class Commissioner(mesa.Agent):
    """The public body that commissions the service.

    It learns only from the data that reaches it: case-level observations on the
    domains its data covers (lever 1), what providers pool at forums it attends
    (lever 3), and citizens' voice where it is collected.

    Attributes:
        reports: evidence from providers' case-level reports on covered domains (S, A, K, 2).
        pool_view: its copy of the shared learning pool, from forums or open data (S, A, K, 2).
        heard: citizens' accounts of change on domains no case data reaches it from (S, A, K, 2).
        voice_sum, voice_n: citizens' reported value weights per segment, summed and counted.
        residual_ss, residual_n: the squared residuals of each month's reported changes about
            each cell's own fit that month, and their degrees of freedom (both discounted like its
            evidence), for its estimate of control (``cell_residuals``).
        reports_before: ``reports`` as they stood at the end of the last month and of the month
            before (2, S, A, K, 2), forgotten since like the rest.
        products: the sums of products of its reports' precisions and departure information over
            pairs of months at least two apart (S, A, K, 2), forgotten like the rest, for its
            estimate of uncertainty (``lagged_products``).
        spent: cumulative net spend (its own activities' costs and payments, less clawbacks), GBP.
        paid_this_month: what it paid providers this month, before clawbacks (GBP).
        activity_costs: what its own activities (procurement, audits, case data, voice, forums)
            have cost since it last paid; they are paid first, out of the month's budget (GBP).
        costs_this_month, costs_total: its activities' costs paid this month, and so far (GBP).
        outcomes: outcome reports that stood (were not found false), so far.
        outcome_payments, deadweight: payments for outcomes so far, and the part of them for cases
            that already met the measure when a provider took them on (GBP).
        payment_scale: the share of what was due that its budget allowed this month (1 if all).
        estimated_uncertainty, estimated_control: its last estimates of the context (lever 6).
    """

    def __init__(self, model: mesa.Model, shape: tuple[int, ...]) -> None:
        super().__init__(model)
        n_segments, _, n_domains = shape
        self.reports = beliefs.empty(shape)
        self.pool_view = beliefs.empty(shape)
        self.heard = beliefs.empty(shape)
        self.voice_sum = np.zeros((n_segments, n_domains))
        self.voice_n = np.zeros(n_segments)
        self.residual_ss = 0.0
        self.residual_n = 0.0
        self.reports_before = beliefs.empty((2, *shape))
        self.products = np.zeros((*shape, 2))
        self.spent = 0.0
        self.paid_this_month = 0.0
        self.payment_scale = 1.0
        self.activity_costs = 0.0   # its own activities' costs since it last paid
        self.costs_this_month = 0.0
        self.costs_total = 0.0
        self.outcomes = 0            # outcome reports that stood (not found false), so far
        self.outcome_payments = 0.0  # paid for them, so far
        self.deadweight = 0.0        # ... for cases that met the measure when they were taken on
        self.estimated_uncertainty: float | None = None
        self.estimated_control: float | None = None

    @property
    def regime(self) -> Regime:
        return self.model.regime

    # --- what reaches it, and what it believes --------------------------------------------------

    def receive_reports(self, reports: np.ndarray, segment: np.ndarray, approach: np.ndarray,
                        domain: np.ndarray, z: np.ndarray, effort: np.ndarray) -> None:
        """Providers' case-level reports on covered domains (evidence (S, A, K, 2)), and the
        observations behind them (7.8), whose residuals about each cell's fit it keeps (7.19).
        """
        self.products += lagged_products(reports, self.reports_before[1], self.model.world.prior_mean)
        self.reports += reports
        cell = np.ravel_multi_index((segment, approach, domain), self.reports.shape[:-1])
        ss, df = cell_residuals(cell, effort, z, int(np.prod(self.reports.shape[:-1])))
        self.residual_ss += ss
        self.residual_n += df

    def hear_voice(self, by_segment: np.ndarray, count: np.ndarray) -> None:
        """Citizens' reports of what they value, summed by segment (S, K), and how many (S,)."""
        self.voice_sum += by_segment
        self.voice_n += count

    def hear_change(self, heard: np.ndarray) -> None:
        """Citizens' accounts of how their needs changed, on domains no case data reaches it from
        (evidence (S, A, K, 2); 7.9).
        """
        self.heard += heard

    def see_pool(self, pool: np.ndarray) -> None:
        """Take a copy of the shared learning pool (a forum it attends, or open data)."""
        self.pool_view = pool.copy()

    def evidence(self) -> np.ndarray:
        """Case-level reports on covered domains, the pool elsewhere, and what citizens told it."""
        return np.where(self.regime.covered[:, None], self.reports, self.pool_view) + self.heard

    def beliefs(self) -> tuple[np.ndarray, np.ndarray]:
        world = self.model.world
        return beliefs.posterior(world.prior_mean, world.prior_sd, self.regime.settings.prior_weight,
                                 self.evidence())

    def believed_values(self) -> np.ndarray:
        return beliefs.value_estimate(self.model.world.professional_values, self.voice_sum,
                                      self.voice_n, PSEUDO_REPORTS)

    def forget(self, factor: float) -> None:
        """Old evidence fades, at the start of each month: every statistic is multiplied by
        ``factor`` (the products of two months' statistics by its square), and the reports as they
        stood at the end of last month are kept aside for ``lagged_products``.
        """
        self.reports_before = np.stack([self.reports, self.reports_before[0]])
        for arr in (self.reports, self.pool_view, self.heard, self.voice_sum, self.voice_n,
                    self.reports_before):
            arr *= factor
        self.products *= factor**2
        self.residual_ss *= factor
        self.residual_n *= factor

    # --- paying and auditing ----------------------------------------------------------------------

    def charge(self, amount: float) -> None:
        """The cost of one of its own activities, paid with the month's payments (7.17)."""
        self.activity_costs += amount

    def pay(self, due: np.ndarray) -> np.ndarray:
        """Pay its activities' costs, then what is due to each provider slot within what the budget
        leaves (unless overspend is allowed).
        """
        terms = self.regime.settings.payment
        costs, self.activity_costs = self.activity_costs, 0.0
        paid = pro_rata(due, max(terms.budget_per_month - costs, 0.0), terms.allow_overspend)
        self.paid_this_month = float(paid.sum())
        self.costs_this_month = costs
        self.costs_total += costs
        self.spent += self.paid_this_month + costs
        self.payment_scale = float(paid.sum() / due.sum() if due.sum() > 0 else 1.0)
        return paid

    def audit(self, reported: np.ndarray, change: np.ndarray) -> np.ndarray:
        """Which of this month's false reports it finds (7.12), domain by domain: it audits a share
        of the reports (each audit charged) and finds each falsified domain of an audited report
        with ``gaming.domain_detection``; where voice is collected, the citizen's own report
        contradicts each falsified domain with ``voice_check`` times that chance.

        Args:
            reported: the rows reported this month (true and false).
            change: how each reported row's record was falsified (len(reported), K); 0 if true.
        """
        settings, rng = self.regime.settings, self.model.rng
        audited = rng.random(len(reported)) < settings.payment.audit_rate
        self.charge(self.model.scenario_config.costs.audit_cost * np.count_nonzero(audited))
        false = np.flatnonzero(change.any(axis=1))
        q = gaming.domain_detection(change[false], settings.payment.audit_resolution)
        found = (rng.random(q.shape) < q).any(axis=1) & audited[false]
        if settings.citizen_voice:
            found |= (rng.random(q.shape) < settings.voice_check * q).any(axis=1)
        detected = np.zeros(len(reported), bool)
        detected[false[found]] = True
        return detected

    def claw_back(self, amount: float) -> None:
        self.spent -= amount

    def record_outcomes(self, count: int, paid: float, deadweight: float) -> None:
        """Tally this month's outcome reports that stood, what it paid for them, and how much of
        that went to deadweight.
        """
        self.outcomes += count
        self.outcome_payments += paid
        self.deadweight += deadweight

    # --- reviews and re-tendering -------------------------------------------------------------------

    def review(self, month: int) -> None:
        """Its periodic reviews, when due: the context (lever 6), then the measure (lever 5)."""
        regime, world = self.regime, self.model.world
        if regime.assessment_due(month):
            strategy = self.assess_context()
            if strategy != regime.strategy:
                regime.adopt(strategy, world.segment_mean(self.believed_values()))
        if regime.review_due(month):
            regime.review(world.segment_mean(self.believed_values()))

    def assess_context(self) -> str:
        """Lever 6: estimate uncertainty and control from own data, then pick Ebrahim's strategy,
        leaving the strategy in force only where an estimate crosses its boundary by the margin.

        Without enough data for an estimate it assumes the middle of the scale (0.5), which keeps
        the side in force (or, before any, counts as high uncertainty and broad control).
        """
        world, sc, regime = self.model.world, self.model.scenario_config, self.regime
        reference = sc.world.departure_sd * sc.world.effect_scale * np.sqrt(PROFILE)[None] \
            * np.ones(self.reports.shape[:-1])
        self.estimated_uncertainty = estimate_uncertainty(
            self.products, self.reports[..., beliefs.PRECISION], world.prior_sd, reference)
        self.estimated_control = estimate_control(self.residual_ss, self.residual_n,
                                                  sc.world.measurement_sd, sc.world.effect_scale)
        u = BOUNDARY if self.estimated_uncertainty is None else self.estimated_uncertainty
        c = BOUNDARY if self.estimated_control is None else self.estimated_control
        return ebrahim_strategy(u, c, regime.strategy, regime.settings.context_margin)

    def retender(self, providers: list) -> list:
        """Which providers lose their contract: the lowest scorers on the measure (league table).

        Under 'keep_learners' providers that shared during the contract are kept.
        """
        settings = self.regime.settings
        rule = settings.retender_rule
        if rule == "none" or not providers:
            return []
        n_replace = int(round(settings.replace_share * len(providers)))
        pool = providers if rule == "replace_bottom" else [p for p in providers if not p.ever_shared]
        return sorted(pool, key=lambda p: (p.score, p.slot))[:n_replace]
