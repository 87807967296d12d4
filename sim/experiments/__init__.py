"""Experiments built on the model core: runs, replicates, comparisons and their statistics."""

from sim.experiments.compare import Comparison, compare
from sim.experiments.runs import replicate_seeds, replicates, run

__all__ = ["Comparison", "compare", "replicate_seeds", "replicates", "run"]
