"""Citizens: the population's arrays, their vectorised dynamics, and the Citizen agent.

The state of every active citizen lives in one ``Population`` of numpy arrays, one
row per citizen, kept in order of arrival (ids ascend). Exited citizens are
dropped from the arrays and counted. Each active citizen is also a ``Citizen``
Mesa agent, a light view that reads its row, so citizens can be inspected,
reported and drawn like any Mesa agent while the monthly step stays vectorised.

The population's own phases of a month are ``Population.arrive`` (7.1, 7.3), ``Population.live``
(needs move and are recorded again, 7.2, 7.3) and ``Population.exit`` (7.20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.arrays import max_last
from sim.world import INTAKE_RECORD, SHOCK

if TYPE_CHECKING:
    from sim.scenario import Population as PopulationSettings
    from sim.world import World

WAITING, IN_SERVICE, LEFT = 0, 1, 2  # LEFT: exited, still followed for intent-to-treat outcomes


def wellbeing(need: np.ndarray, values: np.ndarray) -> np.ndarray:
    """True wellbeing: one minus the need, weighted by what the citizen values."""
    return 1.0 - np.einsum("ik,ik->i", need, values)


def next_need(need: np.ndarray, drift: float, shock: np.ndarray,
              effect: np.ndarray | float) -> np.ndarray:
    """One month of needs: drift up, move with shocks, fall with effective support; kept in [0, 1].

    Computed in one new array, in place (this runs over every citizen every month).
    """
    out = need + drift
    out += shock
    out -= effect
    return np.clip(out, 0.0, 1.0, out=out)


def meets_measure(need: np.ndarray, weights: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each need profile meets a measure: weighted need at or below the threshold."""
    return need @ weights <= threshold


@dataclass(frozen=True)
class Living:
    """What a month of living hands on to learning and payment.

    Attributes:
        served: each citizen was served this month (in service, not parked).
        approach: the approach each was served with (0 where not served).
        old_need: true needs before the month (n, K).
        old_record: the case record before the month (n, K).
        gain: wellbeing the service caused this month, against the same citizens without it.
    """

    served: np.ndarray
    approach: np.ndarray
    old_need: np.ndarray
    old_record: np.ndarray
    gain: float


class Population:
    """Arrays of the citizens referred, one row each: those active (waiting or in service) and
    those who have left but are still followed for the intent-to-treat outcomes (``LEFT``, until
    ``population.followup_months`` after their referral).

    Attributes:
        generation: how many times rows have been dropped (exits): a count kept on the rows'
            providers is valid while the generation is unchanged.
        arrived, resolved, timed_out, discharged, unserved: citizens who arrived and who left each
            way, so far.
        referred (per row): the month of referral (0 for those present at the start).
        met_at_intake (per row): the case met the measure on its record when a provider took it on.
        outcome_month (per row): the month its outcome was reported (-1: none yet).
        wellbeing_gained: the wellbeing service caused, so far (7.2).
    """

    FIELDS = {  # name: (dtype, per-domain)
        "id": (np.int64, False), "segment": (np.int64, False), "status": (np.int8, False),
        "provider": (np.int64, False), "approach": (np.int64, False), "parked": (bool, False),
        "paid": (bool, False), "gamed": (bool, False), "waited": (np.int64, False),
        "months_in_service": (np.int64, False),
        "refusals": (np.int64, False), "referred": (np.int64, False),
        "met_at_intake": (bool, False), "outcome_month": (np.int64, False),
        "recorded_need": (np.float64, True),
        "need": (np.float64, True), "values": (np.float64, True), "effort": (np.float64, True),
    }

    GROWTH = 1.25     # spare room made when the arrays must grow, as a share of the rows needed
    CHUNK = 1 << 15   # rows moved at a time when dropping rows (keeps the moves in cache)

    def __init__(self, n_domains: int) -> None:
        self.n_domains = n_domains
        self._buffers: dict[str, np.ndarray] = {}  # each field is a view of the first rows of one
        self._views: dict[str, np.ndarray] = {}    # the buffer views handed out, to spot replacements
        for name, (dtype, wide) in self.FIELDS.items():
            setattr(self, name, np.empty((0, n_domains) if wide else 0, dtype=dtype))
        self.next_id = 0
        self.generation = 0
        self.arrived = self.resolved = self.timed_out = self.discharged = self.unserved = 0.0
        self.wellbeing_gained = 0.0

    def __len__(self) -> int:
        return len(self.id)

    def _room(self, name: str, rows: int) -> np.ndarray:
        """A buffer of at least ``rows`` rows starting with the field's current rows.

        A field still backed by its buffer grows in place (amortised O(new rows)); one the model has
        replaced with a new array (``pop.need = ...``) is copied into a new, larger buffer.
        """
        arr = getattr(self, name)
        buf = self._buffers.get(name)
        if buf is not None and arr is self._views.get(name) and len(buf) >= rows:
            return buf
        buf = np.empty((int(rows * self.GROWTH) + 16, *arr.shape[1:]), dtype=arr.dtype)
        buf[: len(arr)] = arr
        self._buffers[name] = buf
        return buf

    def _set(self, name: str, arr: np.ndarray, backed: bool) -> None:
        setattr(self, name, arr)
        if backed:
            self._views[name] = arr
        else:
            self._views.pop(name, None)

    def add(self, segment: np.ndarray, need: np.ndarray, values: np.ndarray,
            recorded_need: np.ndarray, referred: int = 0) -> np.ndarray:
        """Append new waiting citizens, referred in month ``referred``; returns their ids."""
        n, old = len(segment), len(self)
        ids = np.arange(self.next_id, self.next_id + n)
        self.next_id += n
        given = dict(id=ids, segment=segment, need=need, values=values, recorded_need=recorded_need,
                     status=WAITING, provider=-1, approach=-1, referred=referred, outcome_month=-1)
        for name in self.FIELDS:
            buf = self._room(name, old + n)
            buf[old: old + n] = given.get(name, 0)
            self._set(name, buf[: old + n], backed=True)
        return ids

    def keep(self, mask: np.ndarray) -> None:
        """Drop every row where ``mask`` is False (order is preserved, so ids stay sorted).

        Rows move up in place, a chunk at a time: a kept row only ever moves to a lower row, so each
        chunk reads rows that no earlier chunk has overwritten.
        """
        dropped = np.flatnonzero(~mask)
        if len(dropped) == 0:
            return
        self.generation += 1
        first = int(dropped[0])
        source = np.flatnonzero(mask[first:]) + first
        kept = first + len(source)
        for name in self.FIELDS:
            arr = getattr(self, name)
            for start in range(0, len(source), self.CHUNK):
                rows = source[start: start + self.CHUNK]
                arr[first + start: first + start + len(rows)] = arr[rows]
            self._set(name, arr[:kept], backed=arr is self._views.get(name))

    def arrive(self, world: World, n: int, month: int) -> None:
        """``n`` new citizens join the queue, their needs recorded at intake (7.1, 7.3)."""
        segment, need, values = world.new_citizens(n)
        ids = np.arange(self.next_id, self.next_id + n)
        self.add(segment, need, values, world.record(need, ids, month, INTAKE_RECORD), referred=month)
        self.arrived += n

    def live(self, world: World, month: int) -> Living:
        """A month of needs (7.2): drift, shocks and the effect of the effort served, for everyone
        followed (those who have left get no support); every need is recorded again (7.3), and time
        passes for those waiting and in service.
        """
        cases = self.in_service
        served = cases & ~self.parked
        approach = np.where(served, self.approach, 0)
        truth = world.truth
        effect = truth.reshape(-1, world.n_domains)[self.segment * truth.shape[1] + approach]
        effect *= self.effort
        effect[~served] = 0.0
        shock = world.noise(self.id, month, SHOCK)
        shock *= world.shock_sd
        without = next_need(self.need, world.need_drift, shock, 0.0)  # what no support would have left
        new_need = next_need(self.need, world.need_drift, shock, effect)
        without -= new_need
        gain = float(np.einsum("ik,ik->i", without, self.values).sum())
        self.wellbeing_gained += gain
        old_record, old_need = self.recorded_need, self.need
        self.need = new_need
        self.recorded_need = world.record(new_need, self.id, month)  # in place: one pass fewer
        self.waited[self.status == WAITING] += 1
        self.months_in_service[cases] += 1
        return Living(served, approach, old_need, old_record, gain)

    def exit(self, rules: PopulationSettings, month: int, discharged: np.ndarray | None = None) -> None:
        """Citizens leave resolved, timed out in service, discharged once their outcome has been paid
        for (``discharged``, from the payment model), or unserved after waiting too long (7.20).

        They stay in the arrays (``LEFT``: no provider, no support, their needs still moving) until
        their follow-up ends, ``followup_months`` after referral; then their rows are dropped.
        """
        resolved = (self.status != LEFT) & (max_last(self.need) < rules.resolved_need)
        timed_out = self.in_service & (self.months_in_service >= rules.max_service_months) & ~resolved
        discharged = (np.zeros(len(self), bool) if discharged is None
                      else discharged & self.in_service & ~resolved & ~timed_out)
        unserved = self.waiting & (self.waited >= rules.max_wait_months) & ~resolved
        leaving = resolved | timed_out | discharged | unserved
        self.resolved += np.count_nonzero(resolved)
        self.timed_out += np.count_nonzero(timed_out)
        self.discharged += np.count_nonzero(discharged)
        self.unserved += np.count_nonzero(unserved)
        if leaving.any():
            self.status[leaving], self.provider[leaving], self.approach[leaving] = LEFT, -1, -1
            self.parked[leaving] = False
            self.effort[leaving] = 0.0
            self.generation += 1  # providers' caseloads changed
        self.keep(~((self.status == LEFT) & (month - self.referred > rules.followup_months)))

    def followed(self, month: int, window: int) -> np.ndarray:
        """Citizens in their intent-to-treat follow-up: referred during the run (month 1 on, not
        inherited with the running service at the start) and at most ``window`` months ago.
        """
        return (self.referred >= 1) & (month - self.referred <= window)

    def row(self, citizen_id: int) -> int:
        """The row of an active citizen, or -1 once it has exited."""
        r = int(np.searchsorted(self.id, citizen_id))
        return r if r < len(self.id) and self.id[r] == citizen_id else -1

    @property
    def wellbeing(self) -> np.ndarray:
        return wellbeing(self.need, self.values)

    @property
    def active(self) -> np.ndarray:
        """Waiting or in service (not yet left)."""
        return self.status != LEFT

    @property
    def in_service(self) -> np.ndarray:
        return self.status == IN_SERVICE

    @property
    def waiting(self) -> np.ndarray:
        return self.status == WAITING


class Citizen(mesa.Agent):
    """A citizen with complex needs; a view on one row of the model's ``Population``.

    Attributes:
        citizen_id: the citizen's id in the population arrays (ids are never reused).
    """

    def __init__(self, model: mesa.Model, citizen_id: int) -> None:
        super().__init__(model)
        self.citizen_id = int(citizen_id)

    def _get(self, name: str):
        pop = self.model.population
        r = pop.row(self.citizen_id)
        return None if r < 0 else getattr(pop, name)[r]

    @property
    def segment(self) -> int:
        return int(self._get("segment"))

    @property
    def need(self) -> np.ndarray:
        return self._get("need")

    @property
    def values(self) -> np.ndarray:
        return self._get("values")

    @property
    def wellbeing(self) -> float:
        return float(1.0 - self.need @ self.values)

    @property
    def status(self) -> str:
        """Where the citizen is: waiting, in service, or left (exited, still followed)."""
        return {WAITING: "waiting", IN_SERVICE: "in service", LEFT: "left"}[int(self._get("status"))]

    @property
    def provider(self) -> int:
        return int(self._get("provider"))

    @property
    def refusals(self) -> int:
        """How many times providers have refused this citizen."""
        return int(self._get("refusals"))

    @property
    def parked(self) -> bool:
        return bool(self._get("parked"))
