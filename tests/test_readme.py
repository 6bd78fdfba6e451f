"""CI must run exactly the test command the README gives."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci_lines if "pytest" in line)
    assert command.strip() in (REPO / "README.md").read_text()
