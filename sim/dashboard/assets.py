"""Solara's web assets, installed from the npm registry so that the dashboard works offline.

Solara's page loads its JavaScript, fonts and style sheets through the server's CDN proxy
(``/_solara/cdn/<package>@<version>/...``), which serves them from a cache folder and fetches
what is missing from a public CDN. A workshop room or a locked-down network has no CDN, and the
page then stays blank ("solara is not defined" in the browser's console). This module fills the
cache from the npm registry (``npm pack``) with the packages and versions that the installed
Solara asks for, read from Solara's own page template and components, so that an upgrade of
Solara is followed by the next ``./setup.sh``.

Run ``python -m sim.dashboard.assets`` (``./setup.sh`` does) to install them; it does nothing
for packages already in the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGES = ("@widgetti/vue-grid-layout", "font-awesome", "requirejs")
"""The npm packages the page loads besides the Vue app: Mesa's draggable grid, icons, the loader."""

VUE_APPS = {2: "@widgetti/solara-vuetify-app", 3: "@widgetti/solara-vuetify3-app"}
"""Solara's Vue app, by the major version of Vue that ipyvue brings (pyproject pins Vue 2)."""

CACHE_ENV = "SOLARA_ASSETS_PROXY_CACHE_DIR"
"""Solara reads its proxy cache folder from this variable."""


class AssetError(RuntimeError):
    """An asset that cannot be found or installed, with one line saying why."""


def solara_files() -> list[Path]:
    """The files of the installed Solara that name the packages its page loads."""
    import solara

    root = Path(solara.__file__).parent
    return [root / "server" / "templates" / "solara.html.j2", root / "server" / "settings.py",
            *sorted((root / "widgets" / "vue").glob("*.vue"))]


def packages() -> tuple[str, ...]:
    """The npm packages the page loads: Solara's app for the installed Vue, and ``PACKAGES``."""
    import ipyvue

    vue = 3 if ipyvue.__version__.startswith("3") else 2  # as Solara's server decides
    return (VUE_APPS[vue], *PACKAGES)


def required_versions(files: list[Path] | None = None) -> dict[str, str]:
    """Each package the page loads with the one version that the installed Solara asks for.

    Raises:
        AssetError: a package is not named, or named at two versions (Solara changed how it
            loads its assets, and this list needs a look).
    """
    text = "\n".join(path.read_text() for path in files or solara_files())
    versions = {}
    for name in packages():
        found = set(re.findall(rf"(?<![\w-]){re.escape(name)}@([0-9][\w.+-]*)/", text))
        if len(found) != 1:
            raise AssetError(f"solara names {name} at {len(found)} versions ({sorted(found)}); "
                             "expected one")
        versions[name] = found.pop()
    return versions


def cache_dir() -> Path:
    """The proxy cache Solara serves from: ``$SOLARA_ASSETS_PROXY_CACHE_DIR`` or Solara's default.

    Solara's default is inside this Python environment (``<prefix>/share/solara/cdn``), where a
    Jupyter server started from the same environment finds it too.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def install(cache: Path, versions: dict[str, str], npm: str = "npm") -> list[str]:
    """Put each package into ``cache/<name>@<version>/``, as the CDN lays it out.

    Returns:
        The packages that were installed now (the others were in the cache already).

    Raises:
        AssetError: npm is missing or a download failed.
    """
    added = []
    for name, version in versions.items():
        target = cache / f"{name}@{version}"
        if (target / "package.json").is_file():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tarball = Path(tmp) / npm_pack(f"{name}@{version}", Path(tmp), npm)
            unpack(tarball, target)
        added.append(f"{name}@{version}")
    return added


def npm_pack(spec: str, folder: Path, npm: str) -> str:
    """Download one package's tarball from the npm registry into ``folder``; its file name."""
    if shutil.which(npm) is None:
        raise AssetError(f"{npm} not found: install Node.js and npm to fetch {spec}")
    proc = subprocess.run([npm, "pack", spec, "--pack-destination", str(folder), "--silent"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise AssetError(f"npm pack {spec} failed: {lines[-1]}")
    return proc.stdout.strip().splitlines()[-1]


def unpack(tarball: Path, target: Path) -> None:
    """Extract an npm tarball's ``package/`` folder to ``target``, whole or not at all."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(staging, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    (staging / "package").rename(target)
    shutil.rmtree(staging)


def main() -> None:
    """Install the assets into the cache, printing one line; exit 2 with one line on failure."""
    cache = cache_dir()
    try:
        added = install(cache, required_versions())
    except AssetError as error:
        print(f"commsim: error: dashboard assets: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"dashboard assets: {', '.join(added) if added else 'all present'} in {cache}")


if __name__ == "__main__":
    main()
