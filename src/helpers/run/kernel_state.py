"""A kernel's clean state, kept so the kernel can run another notebook as if it were new.

Imported inside a scheduled kernel only. :func:`snapshot` runs once, after the warm-up
imports; :func:`restore` runs between two notebooks and brings back what a notebook can
change that a fresh kernel would not have: the user namespace and the execution count
(IPython's ``reset``), figures and matplotlib's settings, warning filters, the working
folder, ``sys.path``, the environment, and pandas' options (to their defaults). Imported modules stay
imported: that is the point (papermill's rule, each notebook starts with a clean
namespace, is kept; the imports are not paid again).
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from typing import Any

__all__ = ["restore", "snapshot"]

_saved: dict[str, Any] = {}


def snapshot() -> None:
    """Remember this kernel's state as the one every notebook starts from."""
    import matplotlib

    _saved.update(
        cwd=os.getcwd(),
        path=list(sys.path),
        environ=dict(os.environ),
        filters=list(warnings.filters),
        rc=matplotlib.rcParams.copy(),
    )


def restore() -> int:
    """Bring the kernel back to its snapshot; returns the kernel's resident memory (MiB).

    Raises ``RuntimeError`` if no snapshot was taken (the kernel is then not reused)."""
    if not _saved:
        raise RuntimeError("no kernel snapshot")
    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    plt.close("all")
    shell = get_ipython()
    if shell is not None:
        # the namespace, In/Out and the execution count (back to 1), as a new kernel has
        shell.reset(new_session=True)
    matplotlib.rcParams.clear()
    matplotlib.rcParams.update(_saved["rc"])
    warnings.filters[:] = _saved["filters"]
    os.chdir(_saved["cwd"])
    sys.path[:] = _saved["path"]
    for key in set(os.environ) - set(_saved["environ"]):
        del os.environ[key]
    os.environ.update(_saved["environ"])
    _reset_pandas()
    gc.collect()
    return _rss_mib()


def _reset_pandas() -> None:
    """pandas' options back to their defaults (no warm-up import sets any)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated options warn when reset
        pd.reset_option("all")


def _rss_mib() -> int:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (OSError, ValueError, IndexError):
        return 0
