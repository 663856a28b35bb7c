"""The project's own shape: dependency lists in step, notebooks clean, params declared."""

from __future__ import annotations

import ast
import re
import tomllib

import nbformat
import pytest
import yaml

from helpers import paths
from helpers.params import NOTEBOOKS, TeamParams, known_teams

ROOT = paths.ROOT


def _name(req: str) -> str:
    """'ibis-framework[duckdb]>=10  # why' -> 'ibis-framework>=10' (extras and comments dropped)."""
    req = req.split("#")[0].strip()
    return re.sub(r"\[.*?\]", "", req).replace(" ", "").lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda and "pip" in conda
    assert sorted(_name(d) for d in conda if d not in ("python=3.11", "pip")) == sorted(
        _name(d) for d in project["dependencies"]
    )
    assert "-e .[dev]" in pip


def test_design_card_packages_are_dependencies():
    deps = {
        re.split(r"[<>=\[ ]", d)[0].lower()
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for pkg in [
        "jupyterlab",
        "papermill",
        "pandas",
        "seaborn",
        "statsmodels",
        "nbval",
        "voila",
        "ipykernel",
        "duckdb",
        "ibis-framework",
        "pyarrow",
        "pydantic",
        "pyyaml",
        "scikit-learn",
    ]:
        assert pkg in deps, pkg


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs_and_a_kernelspec(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell holds outputs"
            assert cell.execution_count is None, f"{name}: a cell holds an execution count"


def _declared_parameters(name: str) -> set[str]:
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: needs exactly one cell tagged `parameters`"
    tree = ast.parse(cells[0].source)
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_params_key_is_a_declared_parameter_of_its_notebook(name):
    declared = _declared_parameters(name)
    shared = {"team", "product_area", "source", "as_of", "run_dir"}
    section = set(TeamParams.model_fields[name].annotation.model_fields)
    assert shared <= declared
    assert section <= declared, f"{name} lacks parameters {sorted(section - declared)}"
    for path in [
        ROOT / "params" / "_defaults.yaml",
        *(ROOT / "params" / f"{t}.yaml" for t in known_teams(ROOT / "params")),
    ]:
        keys = (yaml.safe_load(path.read_text()) or {}).get(name) or {}
        assert set(keys) <= declared, f"{path.name}: {sorted(set(keys) - declared)}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_comments_every_parameter(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for line in cell.source.splitlines():
        if re.match(r"^[a-z_]+\s*=", line):
            assert "#" in line, f"{name}: parameter line without a comment: {line}"


def test_paired_py_percent_files_match_the_notebooks():
    import jupytext

    for name in NOTEBOOKS:
        py = ROOT / "notebooks" / f"{name}.py"
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        paired = jupytext.read(py)
        assert [c.source for c in paired.cells] == [c.source for c in nb.cells], name


def test_pre_commit_strips_outputs_but_keeps_tags_and_kernelspec():
    cfg = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in cfg["repos"] for h in repo["hooks"]}
    assert "nbstripout" in hooks
    args = " ".join(hooks["nbstripout"].get("args", []))
    assert "tags" not in args.split("--extra-keys")[-1]  # tags are never stripped
    assert "ruff" in hooks or "ruff-check" in hooks


def test_reading_a_notebook_does_not_compile_the_iri_grammars_no_schema_uses():
    """`import helpers` keeps jsonschema from importing rfc3987_syntax (about 1 s of CPU in
    every runner, papermill and server process); safe because no schema the workbook's
    processes validate against uses the "iri" formats it checks."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import helpers, nbformat, jsonschema, sys; "
        "print('lark' in sys.modules, 'iri' in jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    searched = 0
    for pkg in ("nbformat", "jupyter_server", "jupyter_events", "voila", "nbclient", "papermill"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*"):
                if path.suffix in (".json", ".yaml", ".yml"):
                    text = path.read_text(errors="ignore")
                    assert not re.search(r"""["']?format["']?\s*:\s*["']?iri""", text), path
                    searched += 1
    assert searched >= 8  # nbformat's own schemas at least
