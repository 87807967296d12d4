"""The golden results: every saved run (tests/golden/) is reproduced bit for bit.

A failure means results moved. If that was the purpose of the change, regenerate them in the same
commit with ``.venv/bin/python tests/golden/make_golden.py`` and say why in its message.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from make_golden import CASES, differences  # noqa: E402


@pytest.mark.parametrize(("name", "presets", "seed"), CASES, ids=[c[0] for c in CASES])
def test_golden_run_is_unchanged(name, presets, seed):
    found = differences(name, presets, seed)
    assert not found, "results moved:\n" + "\n".join(found)
