"""The statistical validation suite: each detector run on families of simulated data.

``make validate`` (``python -m validation``) runs every suite module listed in
:data:`SUITES` and writes its calibration tables (false-alarm rates and power per
family, with their counts) into the docs page the suite names, between the markers
``<!-- validation:NAME -->`` and ``<!-- /validation:NAME -->``. ``--smoke`` runs a few
seeded cases per family and writes nothing (``make test`` runs it).

A suite module defines ``DOC`` (the docs page) and ``run(smoke: bool) -> dict[str,
pandas.DataFrame]`` (one table per marker name). Everything is seeded: the same
command gives the same tables.
"""

from __future__ import annotations

#: suite modules of this package, in the order they run
SUITES: list[str] = ["feedback", "segments", "demand", "trends"]
