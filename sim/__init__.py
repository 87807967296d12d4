"""commsim: an agent-based simulator of how public services are commissioned.

A run in five lines::

    from sim import CommissioningModel
    model = CommissioningModel(scenario="learning_oriented", rng=1)
    model.run_for(120)
    results = model.results()          # one row per month
    print(results[["mean_wellbeing", "commissioner_knowledge"]].tail())
"""

from sim.model import CommissioningModel
from sim.presets import load
from sim.scenario import Scenario, ScenarioError

__all__ = ["CommissioningModel", "Scenario", "ScenarioError", "load"]
__version__ = "0.1.0"
