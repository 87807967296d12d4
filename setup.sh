#!/usr/bin/env bash
# Make a project-local .venv with a Python >= 3.12 and install commsim with its test tools, and the
# dashboard's web assets (from the npm registry, so that the dashboard works offline).
# Safe to run again: it reuses a good .venv and only refreshes the install.
set -euo pipefail
cd "$(dirname "$0")"

is_new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }

find_python() {
  local cand version
  for cand in python3.14 python3.13 python3.12 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && is_new_enough "$cand"; then
      command -v "$cand"; return 0
    fi
  done
  # pyenv installs versions that its shims hide until selected: look for them directly.
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | sort -V -r); do
      cand="$(pyenv root)/versions/$version/bin/python3"
      if [ -x "$cand" ] && is_new_enough "$cand"; then echo "$cand"; return 0; fi
    done
  fi
  return 1
}

if ! [ -x .venv/bin/python ] || ! is_new_enough .venv/bin/python; then
  if ! PYTHON=$(find_python); then
    echo "setup.sh: no Python 3.12 or newer found (tried python3.12+, python3 and pyenv)." >&2
    echo "Install one (e.g. 'pyenv install 3.12') and run ./setup.sh again." >&2
    exit 1
  fi
  echo "setup.sh: making .venv with $("$PYTHON" --version) ($PYTHON)"
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet -e '.[dev,browser]' 2>&1 | grep -v "^WARNING: Location" || true
if command -v npm >/dev/null 2>&1; then
  .venv/bin/python -m sim.dashboard.assets
else
  echo "setup.sh: npm not found, so the dashboard's web assets are not installed; install Node.js" >&2
  echo "and npm and run ./setup.sh again before 'commsim dashboard' (the rest works without)." >&2
fi
.venv/bin/python -c 'import sim, mesa; print(f"setup.sh: commsim {sim.__version__} with Mesa {mesa.__version__} ready in .venv")'
