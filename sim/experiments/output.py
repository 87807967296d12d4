"""Writing results safely: staged in a temporary folder, moved into place only when complete."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("commsim", "mesa", "numpy", "pandas", "scipy", "pydantic", "pyarrow", "matplotlib")


def versions() -> dict[str, str]:
    """Python's and the key packages' versions, for a run's provenance."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``; its files move into ``out`` only if the block succeeds.

    A run that fails half way leaves ``out`` as it was.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield stage
        out.mkdir(exist_ok=True)
        for path in stage.iterdir():
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
