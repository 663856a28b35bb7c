"""A value from the warehouse never runs in a PM's browser: the answer Markdown escapes it and
the HTML export (the PMs' copy of each notebook) is sanitized.

The notebook here is built from the very outputs ``helpers.display`` and pandas produce for a
feature named ``<img src=x onerror=alert(1)>``; no kernel is started.
"""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

from helpers import display
from helpers.run.kernels import export_html

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _displayed(monkeypatch, fn, *args, **kwargs) -> list:
    """What ``fn`` displays, as Jupyter output dicts (``text/markdown`` / ``text/html``)."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    fn(*args, **kwargs)
    outputs = []
    for obj in shown:
        if hasattr(obj, "_repr_markdown_"):
            data = {"text/markdown": obj._repr_markdown_()}
        else:
            data = {"text/html": obj._repr_html_()}
        outputs.append(nbformat.v4.new_output("display_data", data=data))
    return outputs


def _export(tmp_path, outputs: list) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show_answer(answer)")
    cell.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("## The answer"), cell]
    path = tmp_path / "feature_demand.ipynb"
    nbformat.write(nb, path)
    return export_html(path).read_text()


def _live_tags(html: str) -> list[str]:
    """Every real ``<img>`` tag and every tag with an event-handler attribute."""
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)
    return [t for t in tags if t.lower().startswith("<img") or re.search(r"\son\w+\s*=", t)]


def test_answer_markdown_escapes_a_feature_name_with_markup(monkeypatch):
    (out,) = _displayed(monkeypatch, display.show_answer, [f"{EVIL} is most wanted."])
    markdown = out["data"]["text/markdown"]
    assert EVIL not in markdown and ESCAPED in markdown


@pytest.mark.parametrize("notes_title", [None, EVIL])
def test_notes_markdown_escapes_data_values(monkeypatch, notes_title):
    (out,) = _displayed(monkeypatch, display.show_notes, [f"{EVIL} lost 3 accounts"], notes_title)
    assert EVIL not in out["data"]["text/markdown"]


def test_html_export_shows_the_feature_name_escaped_and_runs_nothing(monkeypatch, tmp_path):
    outputs = _displayed(monkeypatch, display.show_answer, [f"{EVIL} is most wanted."])
    table = pd.DataFrame({"feature": [EVIL, "dark_mode"], "accounts": [3, 4]})
    outputs.append(nbformat.v4.new_output("display_data", data={"text/html": table._repr_html_()}))
    html = _export(tmp_path, outputs)
    assert html.count(ESCAPED) >= 2  # in the answer and in the table
    assert _live_tags(html) == []
    assert "<table" in html and "<h3" in html  # tables and headings still render as such


def test_html_export_escapes_raw_markup_that_reached_an_output(tmp_path):
    raw = [
        nbformat.v4.new_output("display_data", data={"text/markdown": f"- {EVIL}"}),
        nbformat.v4.new_output(
            "display_data",
            data={"text/html": "<script>alert(2)</script><a href='javascript:alert(3)'>x</a>"},
        ),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(4)"}),
    ]
    html = _export(tmp_path, raw)
    assert _live_tags(html) == []
    assert "<script>alert(2)" not in html and "alert(4)" not in html
    assert "javascript:alert(3)" not in html
