"""Writing results safely: every results folder says which command made it, and is written in a
temporary folder beside it and swapped in whole only when complete.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.scenario import ScenarioError

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


MARKER = ".commsim.json"
"""The file in every results folder that says which command made it and which files it wrote."""


def claim(out: Path, command: str, force: bool = False, keep: tuple[str, ...] = ()) -> None:
    """Check that ``command`` may write its results into the folder ``out``, before any work.

    ``out`` may be new, empty, or made by the same command (whose results are then replaced). A
    folder holding another command's results or files commsim did not write is refused unless
    ``force``; a file, or the current folder (or one above it), always is.

    Args:
        out: the results folder.
        command: the command writing it (``run``, ``compare``...), recorded in its marker.
        force: replace a folder that holds something else.
        keep: entries of ``out`` that the command itself keeps across runs (``sensitivity``'s
            ``store``).

    Raises:
        ScenarioError: one line naming the folder and what it holds.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"{out}: exists and is not a folder; give another --out")
    if not out.exists():
        return
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise ScenarioError(f"{out}: is the current folder or holds it; give another --out")
    held = holds(out, command, keep)
    if held and not force:
        raise ScenarioError(f"{out}: holds {held}; --force replaces it, or give another --out")


def holds(out: Path, command: str, keep: tuple[str, ...] = ()) -> str | None:
    """What the folder ``out`` holds that ``command`` may not replace without ``--force``, in words;
    None if it is empty or holds only what ``command`` wrote there.
    """
    entries = {path.name for path in out.iterdir()} - set(keep)
    if not entries:
        return None
    marker = read_marker(out)
    if marker is None:
        what = "a sweep store" if "manifest.json" in entries else "files commsim did not write"
        return f"{what} ({_some(sorted(entries))})"
    if marker["command"] != command:
        return f"the results of `commsim {marker['command']}`"
    foreign = sorted(entries - set(marker["files"]) - {MARKER})
    return f"files commsim did not write ({_some(foreign)})" if foreign else None


def read_marker(out: Path) -> dict[str, Any] | None:
    """The folder's marker (``{"command": ..., "files": [...]}``), or None if it has no readable one."""
    try:
        marker = json.loads((Path(out) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(marker, dict) and isinstance(marker.get("command"), str) \
        and isinstance(marker.get("files"), list)
    return marker if ok else None


def _some(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


@contextmanager
def staged(out: Path, command: str, force: bool = False, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write results into; swapped in whole for ``out`` only if
    the block succeeds.

    On success the stage gets the marker, takes over ``keep`` from the old folder, and replaces
    it: the old folder is moved aside, the stage renamed into its place, the old one deleted. A
    reader sees the old folder or the new one, never a mix, and a failure at any point leaves the
    old folder as it was. Commands call ``claim`` before any work; it is checked again here before
    the swap, in case the folder changed while the command worked.

    Args:
        out: the results folder.
        command: the command writing it.
        force: replace a folder that holds something else (see ``claim``).
        keep: entries of the old folder that move into the new one (``sensitivity``'s ``store``).

    Raises:
        ScenarioError: ``claim`` refuses the folder.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = hidden_folder(out, "new")
    try:
        yield stage
        claim(out, command, force, keep)
        files = sorted(path.name for path in stage.iterdir())
        write_json(stage / MARKER, {"command": command, "files": [*files, *keep],
                                    "commsim": versions()["commsim"]})
        swap(stage, out, keep)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def swap(stage: Path, out: Path, keep: tuple[str, ...] = ()) -> None:
    """Put the folder ``stage`` in the place of ``out`` (which may not exist), carrying over the
    entries ``keep`` of the old ``out``; on any failure, everything goes back where it was.
    """
    aside = hidden_folder(out, "old") / out.name
    moved: list[str] = []
    try:
        if out.exists():
            os.rename(out, aside)
            for name in keep:
                if (aside / name).exists():
                    os.rename(aside / name, stage / name)
                    moved.append(name)
        os.rename(stage, out)
    except BaseException:
        for name in moved:
            os.rename(stage / name, aside / name)
        if aside.exists():
            os.rename(aside, out)
        raise
    finally:
        shutil.rmtree(aside.parent, ignore_errors=True)


@functools.cache
def umask() -> int:
    """The process's umask (read by setting it, so once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def hidden_folder(beside: Path, tag: str) -> Path:
    """A new, empty, hidden folder beside ``beside`` (``.<name>-<tag>-<random>``), with the
    permissions a plain ``mkdir`` gives, not ``mkdtemp``'s owner-only ones: it becomes a results
    folder others may read.
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{beside.name}-{tag}-", dir=beside.parent))
    folder.chmod(0o777 & ~umask())
    return folder


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """``write(tmp)`` to a hidden temporary file beside ``path``, then move it into place: a reader
    sees the old file or the whole new one, never a part.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())  # as a plain open() would make it, not mkstemp's owner-only
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines: header, rule, one line per row (cells already formatted)."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(row) + " |" for row in rows]
