"""A recorded table as the PM sees it: sorted and filtered by the address, and downloaded
as exactly that (CSV or XLSX).

The page, the CSV and the XLSX download of one view apply the same :func:`view_table`, so
"download what I see" holds by construction: the same rows in the same order, at full
precision. Sorting and filtering run in pyarrow (no pandas in the server).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

__all__ = ["ORDERS", "VIEW_KEYS", "read_head", "read_view", "table_xlsx", "view_table"]

#: The query keys of a table view: column to sort by, its order, and a filter text.
VIEW_KEYS = ("sort", "order", "q")
ORDERS = ("asc", "desc")

_FORMULA = re.compile(r"^[=+\-@\t\r]")


def view_table(table, *, sort: str | None = None, order: str = "desc", q: str | None = None):
    """``table`` (a pyarrow Table) filtered to rows where any text cell contains ``q``
    (case-insensitive) and sorted by ``sort`` (missing values last).

    ``sort`` must be one of the table's columns (checked by the caller against
    ``table.column_names``); ``order`` is ``"asc"`` or ``"desc"``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if q:
        mask = None
        for field, column in zip(table.schema, table.columns, strict=True):
            kind = field.type
            if pa.types.is_dictionary(kind):
                column, kind = column.cast(kind.value_type), kind.value_type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                continue
            hit = pc.fill_null(pc.match_substring(column, q, ignore_case=True), False)
            mask = hit if mask is None else pc.or_(mask, hit)
        table = table.slice(0, 0) if mask is None else table.filter(mask)
    if sort and sort in table.column_names:
        direction = "descending" if order == "desc" else "ascending"
        idx = pc.sort_indices(table, sort_keys=[(sort, direction)])  # missing values last
        table = table.take(idx)
    return table


def read_head(path: Path, rows: int):
    """The first ``rows`` rows of a recorded Parquet table and its number of rows (only the
    first batch is read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    batch = next(file.iter_batches(batch_size=max(rows, 1)), None)
    head = pa.Table.from_batches([batch]) if batch is not None else file.schema_arrow.empty_table()
    return head, file.metadata.num_rows


def read_view(path: Path, *, sort: str | None = None, order: str = "desc", q: str | None = None):
    """A recorded Parquet table with :func:`view_table` applied."""
    import pyarrow.parquet as pq

    return view_table(pq.read_table(path), sort=sort, order=order, q=q)


def _cell(value):
    """An XLSX cell value: text a spreadsheet would run as a formula gets a leading ``'``;
    time zones dropped (Excel has none); everything else as it is."""
    if isinstance(value, str):
        return "'" + value if _FORMULA.match(value) else value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, list | dict | bytes):
        return str(value)
    return value


def table_xlsx(table, sheet: str = "table") -> bytes:
    """A pyarrow Table as an XLSX workbook (openpyxl), full precision, one header row.

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
    written with a leading ``'`` (as in the CSV downloads), so no cell is a formula.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=re.sub(r"[^A-Za-z0-9 _-]", "_", sheet)[:31] or "table")
    ws.append([_cell(str(n)) for n in table.column_names])
    for row in table.to_pylist():
        ws.append([_cell(v) for v in row.values()])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
