"""Parameter sweeps: a TOML specification (``spec``), run on Dask (``runner``), stored as Parquet
(``store``). The names below are the sweeps' public interface.
"""

from sim.experiments.sweep.runner import (
    auto_batch_size,
    connect,
    local_cluster,
    measure_columns,
    run_batch,
    run_sweep,
)
from sim.experiments.sweep.spec import (
    MORRIS_LEVELS,
    SOBOL_SECOND_ORDER,
    Parameter,
    RunItem,
    SweepSettings,
    SweepSpec,
    base_scenarios,
    design_points,
    design_sample,
    expand,
    load_spec,
    parse_spec,
    run_seed,
    salib_problem,
)
from sim.experiments.sweep.store import (
    DEFAULT_MEASURES,
    choose_measures,
    done_runs,
    prepare_store,
    read_store,
    store_lock,
    summarise,
    write_batch,
)

__all__ = [
    "DEFAULT_MEASURES", "MORRIS_LEVELS", "SOBOL_SECOND_ORDER", "Parameter", "RunItem", "SweepSettings",
    "SweepSpec", "auto_batch_size", "base_scenarios", "choose_measures", "connect", "design_points",
    "design_sample", "done_runs", "expand", "load_spec", "local_cluster", "measure_columns",
    "parse_spec", "prepare_store", "read_store", "run_batch", "run_seed", "run_sweep", "salib_problem",
    "store_lock", "summarise", "write_batch",
]
