"""A browser dashboard: turn the seven levers and watch two regimes diverge.

``commsim dashboard`` serves it; in Jupyter, one cell shows it::

    from sim.dashboard import Dashboard
    Dashboard()
"""

__all__ = ["Dashboard"]


def __getattr__(name: str):
    # imported on first use, so that the asset installer (run by ./setup.sh) and the command
    # line's checks do not load Solara's page
    if name == "Dashboard":
        from sim.dashboard.app import Dashboard

        return Dashboard
    raise AttributeError(f"module 'sim.dashboard' has no attribute {name!r}")
