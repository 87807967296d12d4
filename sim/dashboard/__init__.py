"""A browser dashboard: turn the seven levers and watch two regimes diverge.

``commsim dashboard`` serves it; in Jupyter, one cell shows it::

    from sim.dashboard import Dashboard
    Dashboard()
"""

from sim.dashboard.app import Dashboard

__all__ = ["Dashboard"]
