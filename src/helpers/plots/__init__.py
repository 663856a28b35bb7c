"""Seaborn figures for the notebooks: one module per analysis, one shared style.

Plotting functions return the figure and never save it; notebooks pass figures to
:class:`helpers.results.Recorder` to keep them with the run.
"""

from __future__ import annotations

__all__ = ["use_style"]


def use_style() -> None:
    """The one look every notebook shares (call once at the top of a notebook)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
