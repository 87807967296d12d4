"""Serving the dashboard: what ``commsim dashboard`` does.

The page is served by Solara's server in production mode (no reloading, minified assets, no
development tools), with its web assets from the cache that ``./setup.sh`` filled, so it needs no
internet. Solara reads its settings from the environment when it starts, so they travel to the
server as environment variables.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

from sim import ScenarioError
from sim.dashboard import assets
from sim.dashboard.pair import context_presets, regime_presets
from sim.presets import find_file

LOCALHOST = "127.0.0.1"
APP = "sim.dashboard.app"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.1, ::1, localhost)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def check_presets(regime: str, context: str) -> None:
    """A regime and a context the dashboard can open with: presets of their kind, or TOML files.

    Raises:
        ScenarioError: one line naming the argument and what is allowed.
    """
    for name, kind, known in ((regime, "regime", regime_presets()), (context, "context", context_presets())):
        if name not in known and not name.endswith(".toml"):
            raise ScenarioError(f"{name}: not a {kind} preset (presets: {', '.join(known)})")
        find_file(name)  # a TOML file must exist


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, if the address cannot be served (rather than in the server's log).

    Raises:
        ScenarioError: the port is taken or the host is not an address of this machine.
    """
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise ScenarioError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None


def check_assets(cache: Path) -> None:
    """The web assets the installed Solara asks for are in the cache.

    Raises:
        ScenarioError: some are missing, saying how to install them.
    """
    missing = [f"{name}@{version}" for name, version in assets.required_versions().items()
               if not (cache / f"{name}@{version}" / "package.json").is_file()]
    if missing:
        raise ScenarioError(f"the dashboard's web assets are not installed in {cache} "
                            f"({', '.join(missing)}): run ./setup.sh or python -m sim.dashboard.assets")


def environment(regime: str, context: str, cache: Path) -> dict[str, str]:
    """The server's environment: the assets cache, no telemetry, and what to open with."""
    from sim.dashboard.app import CONTEXT_ENV, REGIME_ENV

    return {**os.environ,
            assets.CACHE_ENV: str(cache),
            "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",  # no calls home from a workshop room
            "SOLARA_THEME_SHOW_BANNER": "false",  # Solara's own banner sits over the views
            REGIME_ENV: regime, CONTEXT_ENV: context}


def command(host: str, port: int) -> list[str]:
    """The Solara server's command line."""
    return [sys.executable, "-m", "solara", "run", APP, "--production", "--host", host,
            "--port", str(port), "--no-open", "--no-check-version"]


def serve(regime: str, context: str, host: str = LOCALHOST, port: int = 8765) -> None:
    """Check the arguments, then become the dashboard's server (this process is replaced by it,
    so that Ctrl-C and signals reach the server itself).

    Raises:
        ScenarioError: a bad argument, a busy port or missing assets, in one line.
    """
    check_presets(regime, context)
    check_port(host, port)
    cache = assets.cache_dir()
    check_assets(cache)
    if not is_loopback(host):
        print(f"commsim: warning: serving on {host}:{port}: the page has no authentication; anyone "
              "who can reach this address can use it", file=sys.stderr)
    print(f"commsim dashboard: {regime} against target_driven in the {context} context, at "
          f"http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, command(host, port), environment(regime, context, cache))
