"""Tiny stand-in notebooks for runner tests: each records a table and an answer in seconds.

The environment steers them: ``WB_SLEEP`` seconds to sleep, ``WB_FAIL_TEAM`` a team whose
notebook raises, ``WB_KILL_TEAM`` a team whose kernel kills itself, ``WB_SLOW_TEAM`` a team whose notebooks
take 3 s longer, ``WB_PIDFILE`` a file
to write the kernel's pid into (to kill it from outside).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from helpers.params import NOTEBOOKS

STEERING = ("WB_SLEEP", "WB_FAIL_TEAM", "WB_KILL_TEAM", "WB_PIDFILE", "WB_SLOW_TEAM")

_BODY = """
import os, time, signal
import pandas as pd
from helpers.results import Recorder
rec = Recorder(run_dir, NAME)
if os.environ.get("WB_PIDFILE"):
    with open(os.environ["WB_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
time.sleep(float(os.environ.get("WB_SLEEP", "0")))
if os.environ.get("WB_SLOW_TEAM") == team:
    time.sleep(3)
if os.environ.get("WB_FAIL_TEAM") == team:
    raise ValueError("planted failure for " + team)
if os.environ.get("WB_KILL_TEAM") == team:
    os.kill(os.getpid(), signal.SIGKILL)
rec.table("rows", pd.DataFrame({"team": [team], "as_of": [as_of]}))
rec.answer(["answer for " + team])
"""


def write_stand_ins(folder: Path) -> Path:
    """Write one stand-in ``<notebook>.ipynb`` per workbook notebook into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell(
            'team = "analytics"\nproduct_area = "analytics"\nsource = "data/demo.duckdb"\n'
            'as_of = None\nrun_dir = ""'
        )
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(_BODY.replace("NAME", repr(name)))]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def use_stand_ins(folder: Path, monkeypatch) -> Path:
    """Point the runner at stand-ins in ``folder`` and clear their steering variables."""
    write_stand_ins(folder)
    monkeypatch.setenv("WORKBOOK_NOTEBOOKS", str(folder))
    # the stand-ins need pandas only: skip warming seaborn, statsmodels, scikit-learn
    monkeypatch.setenv("WORKBOOK_WARM_IMPORTS", "import pandas, helpers.results")
    for var in STEERING:
        monkeypatch.delenv(var, raising=False)
    return folder
