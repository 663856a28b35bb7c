"""The package's shape: one owner per default, one notebook skeleton, imports that point down."""

from __future__ import annotations

import ast
import importlib
import inspect

import nbformat
import pytest
import yaml

import helpers
from helpers import errors, paths
from helpers.params import NOTEBOOKS, TeamParams

ROOT = paths.ROOT
ANALYSES = {n: importlib.import_module(f"helpers.{n}") for n in NOTEBOOKS}


def _section_defaults(notebook: str) -> dict:
    model = TeamParams.model_fields[notebook].annotation
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
    }


def _parameters_cell(notebook: str) -> dict:
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def _code_cells(notebook: str) -> list[str]:
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------------ defaults written once


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_defaults_yaml_repeats_the_models_defaults(notebook):
    written = yaml.safe_load((ROOT / "params" / "_defaults.yaml").read_text())[notebook]
    defaults = _section_defaults(notebook)
    for key, value in written.items():
        assert value == defaults[key], f"_defaults.yaml {notebook}.{key}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_parameters_cell_defaults_equal_the_models(notebook):
    cell = _parameters_cell(notebook)
    # features: the cell names the demo's features so the notebook runs by hand
    examples = {"features"}
    for key, value in _section_defaults(notebook).items():
        if key not in examples:
            assert cell[key] == value, f"{notebook}.ipynb parameter {key}"
    assert cell["as_of"] == TeamParams.model_fields["as_of"].default
    assert cell["source"] == TeamParams.model_fields["source"].default


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_function_defaults_equal_the_models(notebook):
    """A public function's keyword named like a params key defaults to the params' value."""
    defaults = _section_defaults(notebook)
    package = ANALYSES[notebook]
    checked = 0
    for name in package.__all__:
        obj = getattr(package, name)
        if not inspect.isfunction(obj):
            continue
        for p in inspect.signature(obj).parameters.values():
            # None stands for "the params' default" (e.g. every feedback source)
            if p.name in defaults and p.default not in (inspect.Parameter.empty, None):
                expected = defaults[p.name]
                value = list(p.default) if isinstance(p.default, tuple) else p.default
                assert value == expected, f"{name}({p.name}={p.default!r}) vs params {expected!r}"
                checked += 1
    assert checked >= 3, f"{notebook}: too few defaults compared ({checked})"


def test_lists_of_choices_are_the_params_models():
    from typing import get_args

    from helpers.feature_demand import SEGMENT_COLUMNS, WEIGHTINGS
    from helpers.feature_demand.load import SOURCES
    from helpers.metric_trends import GRAINS

    fd = TeamParams.model_fields["feature_demand"].annotation.model_fields
    mt = TeamParams.model_fields["metric_trends"].annotation.model_fields
    assert list(WEIGHTINGS) == list(get_args(fd["weighting"].annotation))
    assert list(SEGMENT_COLUMNS) == list(get_args(fd["segment_by"].annotation))
    assert list(SOURCES) == fd["sources"].default
    assert list(GRAINS) == list(get_args(mt["grain"].annotation))


# ------------------------------------------------------------------ one notebook skeleton


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_defines_no_functions_and_catches_nothing(notebook):
    for source in _code_cells(notebook):
        for node in ast.walk(ast.parse(source)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda), notebook
            assert not isinstance(node, ast.Try), f"{notebook}: try/except in a cell"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_never_rebinds_a_parameter(notebook):
    params = set(_parameters_cell(notebook))
    for source in _code_cells(notebook)[1:]:
        for node in ast.walk(ast.parse(source)):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For):
                targets = [node.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            assert not names & params, f"{notebook} rebinds {sorted(names & params)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_follows_the_skeleton(notebook):
    """parameters → imports and connect → one compute call → answer → sections → data quality."""
    cells = _code_cells(notebook)
    setup, compute = cells[1], cells[2]
    assert "connect(source)" in setup and "resolve_as_of(wh, as_of)" in setup
    imports = [n for n in ast.parse(setup).body if isinstance(n, ast.Import | ast.ImportFrom)]
    for node in imports:  # one import style: from helpers.<module> import names
        if isinstance(node, ast.ImportFrom) and node.module.startswith("helpers"):
            assert node.module.count(".") == 1, f"{notebook}: from {node.module} import"
        assert not isinstance(node, ast.Import), f"{notebook}: plain import"
    compute_calls = [
        n
        for n in ast.parse(compute).body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
    ]
    assert len(compute_calls) == 1, f"{notebook}: the compute cell makes one call"
    assert "show_answer(" in cells[3]
    assert cells[-1].strip() == "show_quality(wh, run_dir)"
    md = [
        c.source
        for c in nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
        if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    assert md[0] == "## The answer" and md[-1] == "## Data quality", notebook


# ------------------------------------------------------------------ the package's API


def test_public_api_is_pinned():
    assert sorted(helpers.__all__) == sorted(
        [
            "DataError",
            "MissingSegmentationError",
            "ParamsError",
            "RunFolder",
            "TeamFolder",
            "VisitorError",
            "WorkbookError",
            "__version__",
            "connect",
            "customer_feedback",
            "customer_segmentation",
            "dashboards",
            "data",
            "demand_report",
            "feedback_report",
            "feature_demand",
            "load_team",
            "metric_trends",
            "read_assignments",
            "resolve_as_of",
            "run",
            "segment",
            "trend_report",
        ]
    )
    for name in helpers.__all__:
        assert getattr(helpers, name) is not None, name


def test_every_error_is_a_workbook_error():
    for name in ("ParamsError", "DataError", "VisitorError", "MissingSegmentationError"):
        assert issubclass(getattr(errors, name), errors.WorkbookError)


def _imports(module_file) -> set[str]:
    """Absolute names of the helpers modules a file imports (relative imports resolved)."""
    rel = module_file.relative_to(ROOT / "src")
    package = list(rel.with_suffix("").parts[:-1])
    if rel.name == "__init__.py":
        package = list(rel.parent.parts)
    found = set()
    for node in ast.walk(ast.parse(module_file.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
            elif node.module and node.module.startswith("helpers"):
                found.add(node.module)
    return found


def test_imports_point_down():
    """Analyses never import the runner, the pages or the CLI; the runner and the pages
    never import an analysis (the runner reads only the metric registry, a config)."""
    src = ROOT / "src" / "helpers"
    upper = ("helpers.run", "helpers.dashboards", "helpers.cli")
    for name in NOTEBOOKS:
        for f in (src / name).rglob("*.py"):
            bad = {m for m in _imports(f) if m.startswith(upper)}
            assert not bad, f"{f.relative_to(src)} imports {bad}"
    for layer in ("run", "dashboards"):
        for f in (src / layer).rglob("*.py"):
            for m in _imports(f):
                if m.startswith(tuple(f"helpers.{n}" for n in NOTEBOOKS)):
                    # the live explorer (#16) is the one page that computes: its engine side
                    # calls the metric_trends notebook's own helpers (no second implementation)
                    explorer = f.parent.name == "explore" and f.name == "compute.py"
                    allowed = m == "helpers.metric_trends.registry" or (
                        explorer and m.startswith("helpers.metric_trends")
                    )
                    assert allowed, f"{f.name} imports {m}"
