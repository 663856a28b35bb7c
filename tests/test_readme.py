"""The README's recipes work as written on the demo warehouse."""

from __future__ import annotations

import re

import yaml

from helpers import paths
from helpers import run as runner

README = (paths.ROOT / "README.md").read_text()


def _recipe(title: str) -> tuple[str, dict]:
    """The team name and YAML block that follow a recipe's bold title."""
    section = README.split(f"**{title}**", 1)[1]
    team = re.search(r"`params/([a-z0-9_-]+)\.yaml`:", section).group(1)
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return team, yaml.safe_load(block)


def test_the_add_a_team_recipe_plans_cleanly_on_the_demo(workbook_root):
    team, params = _recipe("Add a team.")
    (workbook_root / "params" / f"{team}.yaml").write_text(yaml.safe_dump(params))
    [planned] = runner.plan([team])
    assert planned.error is None, planned.error
    assert planned.todo == planned.params.notebooks


def test_a_misspelt_product_area_names_the_areas_there_are(workbook_root):
    params = {"product_area": "analytic", "feature_demand": {"features": ["cohorts", "funnels"]}}
    (workbook_root / "params" / "typo.yaml").write_text(yaml.safe_dump(params))
    [planned] = runner.plan(["typo"], notebooks=["feature_demand"])
    assert "product_area" in planned.error
    assert "did you mean 'analytics'" in planned.error
    assert "collaboration" in planned.error  # the list of areas, never an empty one
