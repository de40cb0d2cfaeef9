"""Writing outputs: never partial, never a live formula.

Every output goes to a temporary file in the destination folder and is renamed
into place only when complete (os.replace is atomic on one file system); on any
error the temporary file is removed and an existing output is left untouched.

CSV injection (OWASP): a cell that a spreadsheet would evaluate, one starting with
=, +, -, @, a tab or a carriage return, is prefixed with a single quote. Plain
numbers such as -12.5 are left alone so numeric columns stay numeric.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


def neutralise_formulas(array):
    """pyarrow string array with formula-like cells prefixed by a quote; (array, count)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.type != pa.string():
        array = array.cast(pa.string())
    # cheap first pass on the first byte (all six markers are ASCII); the regex only where it matters
    risky = _first_byte_risky(array)
    if risky is None:
        return array, 0
    risky = pc.fill_null(pc.and_(risky, pc.invert(pc.match_substring_regex(array, PLAIN_NUMBER))), False)
    count = pc.sum(risky).as_py() or 0
    if count:
        quoted = pc.binary_join_element_wise(pa.scalar("'"), array, "")
        array = pc.if_else(risky, quoted, array)
    return array, count


_RISKY_FIRST = (ord("="), ord("+"), ord("-"), ord("@"), ord("\t"), ord("\r"))


def _first_byte_risky(array):
    """Boolean pyarrow array: the cell starts with a formula marker; None when no cell does.

    Read straight from the offsets and value buffers with numpy: no per-cell slice is built."""
    import numpy as np
    import pyarrow as pa

    n = len(array)
    bufs = array.buffers()
    if n == 0 or bufs[2] is None:
        return None
    offsets = np.frombuffer(bufs[1], np.int32)[array.offset:array.offset + n + 1]
    data = np.frombuffer(bufs[2], np.uint8)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    first = np.zeros(n, np.uint8)
    first[nonempty] = data[starts[nonempty]]
    table = np.zeros(256, bool)
    table[list(_RISKY_FIRST)] = True
    risky = table[first]
    if array.null_count:
        risky &= np.asarray(array.is_valid())
    if not risky.any():
        return None
    return pa.array(risky)


def _safe_table(table):
    import pyarrow as pa

    cols, total = [], 0
    for col in table.columns:
        arr, c = neutralise_formulas(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        cols.append(arr)
        total += c
    return pa.table(cols, names=table.column_names), total


@contextmanager
def atomic_path(path):
    """The SDK's ``atomic_path`` (a temporary path next to `path`, renamed into place if the block
    succeeds), creating the folder first: an output may name a folder that is not there yet."""
    from workbench.api import atomic_path as sdk_atomic_path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with sdk_atomic_path(path) as tmp:
        yield tmp


@contextmanager
def room_for(dst):
    """A full disk (or quota, or file size limit) while *dst* is written: an error naming *dst*, the file
    asked for (atomic_path and StreamingCsvWriter remove their temporary part; an earlier *dst* is whole)."""
    from workbench.api import is_no_room

    from .errors import AnonymiseError

    try:
        yield
    except OSError as exc:
        if not is_no_room(exc):
            raise
        raise AnonymiseError(
            f"{dst}: no room to write the output ({os.strerror(exc.errno)}: the disk or quota is full, or a file "
            f"size limit was reached). Nothing was written there (an earlier file of that name is unchanged); "
            f"free some space in {os.path.dirname(os.path.abspath(dst))} and run again.") from exc


def _csv_options(delimiter, include_header: bool = True):
    import pyarrow.csv as pacsv

    return pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed", include_header=include_header)


def csv_header(names, delimiter: str = ",") -> bytes:
    """The header line the CSV writers write for these column names (quoting as theirs)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    empty = pa.table({n: pa.array([], pa.string()) for n in names})
    pacsv.write_csv(empty, sink, write_options=_csv_options(delimiter))
    return sink.getvalue().to_pybytes()


def write_csv_part(path, batches, delimiter: str = ",") -> tuple[int, int]:
    """Batches as CSV records without a header (one part of an output assembled in order,
    byte for byte what `StreamingCsvWriter` writes for them); (rows, formulas neutralised)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = count = 0
    writer = None
    try:
        for batch in batches:
            cols = []
            for col in batch.columns:
                arr, c = neutralise_formulas(col)
                cols.append(arr)
                count += c
            out = pa.record_batch(cols, names=batch.schema.names)
            if writer is None:
                writer = pacsv.CSVWriter(str(path), out.schema, write_options=_csv_options(delimiter, False))
            writer.write_batch(out)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        open(path, "wb").close()
    return rows, count


def write_table(path, table, delimiter: str = ",") -> dict:
    """Write a pyarrow table (CSV/TSV, Parquet or JSON Lines by suffix), atomically.

    Returns {"rows": n, "formulas_neutralised": c}.
    """
    import pyarrow.csv as pacsv

    p = Path(path)
    suffix = p.suffix.lower()
    with atomic_path(p) as tmp:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
            return {"rows": table.num_rows, "formulas_neutralised": 0}
        if suffix in (".jsonl", ".ndjson"):
            import json

            with open(tmp, "w", encoding="utf-8") as fh:
                for row in table.to_pylist():
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            return {"rows": table.num_rows, "formulas_neutralised": 0}
        if suffix == ".tsv":
            delimiter = "\t"
        safe, count = _safe_table(table)
        pacsv.write_csv(safe, tmp, write_options=_csv_options(delimiter))
        return {"rows": table.num_rows, "formulas_neutralised": count}


class StreamingCsvWriter:
    """Batch by batch into a temporary file; `close()` renames, `abort()` removes."""

    def __init__(self, path, schema, delimiter: str = ","):
        import pyarrow.csv as pacsv

        self._cm = atomic_path(path)
        self._tmp = self._cm.__enter__()
        self._writer = pacsv.CSVWriter(self._tmp, schema, write_options=_csv_options(delimiter))
        self.rows = 0
        self.formulas_neutralised = 0

    def write(self, batch):
        import pyarrow as pa

        cols = []
        for col in batch.columns:
            arr, c = neutralise_formulas(col)
            cols.append(arr)
            self.formulas_neutralised += c
        self._writer.write_batch(pa.record_batch(cols, names=batch.schema.names))
        self.rows += batch.num_rows

    def close(self):
        self._writer.close()
        self._cm.__exit__(None, None, None)

    def abort(self, exc=None):
        try:
            self._writer.close()
        finally:
            err = exc or RuntimeError("aborted")
            try:
                self._cm.__exit__(type(err), err, None)
            except BaseException:
                pass


def rewrite_csv_columns(src, dst, columns, convert, *, require: bool = True) -> int:
    """Stream CSV *src* to *dst*, replacing each column named in *columns* by ``convert(name, array)``;
    written whole or not at all. A column missing from *src* is an error when *require*.
    Returns the rows written."""
    import pyarrow as pa

    from .errors import AnonymiseError
    from .reader import iter_csv_batches

    writer = None
    try:
        for batch in iter_csv_batches(src):
            names = batch.schema.names
            missing = [c for c in columns if c not in names] if require else []
            if missing:
                raise AnonymiseError(f"{src}: no column {missing[0]!r}")
            cols = [convert(n, batch.column(i)) if n in columns else batch.column(i) for i, n in enumerate(names)]
            out = pa.record_batch(cols, names=names)
            if writer is None:
                writer = StreamingCsvWriter(dst, out.schema)
            writer.write(out)
        if writer is None:
            raise AnonymiseError(f"{src}: no rows")
        writer.close()
    except BaseException as exc:
        if writer is not None:
            writer.abort(exc)
        raise
    return writer.rows
