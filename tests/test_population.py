"""Population arrays: growing in place and dropping rows in place give what concatenation and
boolean filtering would."""

import numpy as np
import pytest

from sim.citizens import WAITING, Population


@pytest.mark.parametrize("chunk", [3, 1 << 15])
def test_add_and_keep_match_concatenate_and_filter(chunk, monkeypatch):
    monkeypatch.setattr(Population, "CHUNK", chunk)
    rng = np.random.default_rng(0)
    pop = Population(4)
    naive = {name: getattr(pop, name).copy() for name in Population.FIELDS}
    for month in range(12):
        n = int(rng.integers(0, 40))
        seg, need, values, rec = (rng.integers(0, 6, n), rng.random((n, 4)), rng.random((n, 4)),
                                  rng.random((n, 4)))
        start = pop.next_id
        pop.add(seg, need, values, rec)
        new = dict(id=np.arange(start, start + n), segment=seg, need=need, values=values,
                   recorded_need=rec, status=np.full(n, WAITING, np.int8), provider=np.full(n, -1),
                   approach=np.full(n, -1), outcome_month=np.full(n, -1))
        for name, (dtype, wide) in Population.FIELDS.items():
            block = new.get(name, np.zeros((n, 4) if wide else n, dtype))
            naive[name] = np.concatenate([naive[name], block])
        # the model writes fields in place and replaces some whole
        pop.waited += 1
        naive["waited"] += 1
        pop.need = pop.need * 0.5
        naive["need"] = naive["need"] * 0.5
        mask = rng.random(len(pop)) < (0.3 if month % 3 else 1.0)
        pop.keep(mask)
        for name in Population.FIELDS:
            naive[name] = naive[name][mask]
        for name in Population.FIELDS:
            np.testing.assert_array_equal(getattr(pop, name), naive[name], err_msg=name)
            assert getattr(pop, name).dtype == naive[name].dtype
        assert np.all(np.diff(pop.id) > 0)
