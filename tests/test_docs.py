"""The documentation stays true to the code."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_odd_parameter_table_matches_the_schema():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "make_parameter_table.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:40])
    commands = re.findall(r"^\./setup\.sh && .+$", first_screen, flags=re.M)
    assert len(commands) == 2
    assert "commsim compare target_driven learning_oriented" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_figure_is_committed():
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text()):
        assert (ROOT / image).is_file(), image
