"""The statistical validation suite: each detector run on families of simulated data.

``make validate`` (``python -m validation --jobs 2``) runs every suite module listed in
:data:`SUITES` and writes its calibration tables (false-alarm rates and power per
family, with their counts) into the docs page the suite names, between the markers
``<!-- validation:NAME -->`` and ``<!-- /validation:NAME -->``. ``--smoke`` runs a few
seeded cases per family and writes nothing (``make test`` runs it).

A suite module defines ``DOC`` (the docs page) and ``run(smoke: bool) -> dict[str,
pandas.DataFrame]`` (one table per marker name); a suite whose ``run`` also takes
``jobs`` spreads its families over that many processes (``--jobs``). Everything is
seeded, each row from its own seed: the same command gives the same tables, with any
``--jobs``.
"""

from __future__ import annotations

#: suite modules of this package, in the order they run
SUITES: list[str] = ["feedback", "segments", "demand", "trends"]
