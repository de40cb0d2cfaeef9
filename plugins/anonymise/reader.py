"""Reading tabular data: CSV/TSV (sniffed delimiter and encoding), Parquet, JSON Lines.

pyarrow is the engine: its CSV reader is multi-threaded C++, it dictionary-encodes a
column into integer codes without a Python loop (what the lattice search needs),
it streams record batches for files larger than memory, and it reads Parquet and
JSON Lines too. Every value is read as a string so nothing is altered by type
inference (leading zeros of postcodes, phone numbers, IDs survive).

Errors are found by pyarrow and then located exactly by a second pass with the
standard csv module, so the message can name the line and the data row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

DELIMITERS = (",", ";", "\t", "|")
DEFAULT_MAX_LINE_BYTES = 1 << 20  # a longer line is almost always a broken file, not data
_SNIFF_BYTES = 64 * 1024
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@dataclass
class Table:
    """A read dataset: a pyarrow table of string columns plus how it was read."""

    path: str
    data: object  # pyarrow.Table, all columns string
    delimiter: str | None = None
    encoding: str | None = None
    repairs: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.data.column_names)

    @property
    def num_rows(self) -> int:
        return self.data.num_rows

    def values(self, name: str) -> list[str]:
        return self.data.column(name).to_pylist()

    def codes(self, name: str):
        """(int32 numpy codes, list of distinct values) for one column."""
        import numpy as np

        col = self.data.column(name).combine_chunks().dictionary_encode()
        return (np.asarray(col.indices.to_numpy(zero_copy_only=False), dtype=np.int32),
                col.dictionary.to_pylist())


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def sniff_encoding(path, data: bytes) -> str:
    """BOM first; then strict UTF-8; a file with no UTF-8 sequence at all is cp1252/latin-1.

    A file holding valid UTF-8 sequences *and* invalid bytes has mixed encodings:
    guessing would corrupt one part silently, so that is an error naming the line.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        bad = exc.start
    if _UTF8_MULTIBYTE.search(data):
        raise InputError(
            path,
            f"mixed text encodings: byte 0x{data[bad]:02x} is not UTF-8 although other lines are "
            "UTF-8; convert the file to one encoding, or pass an encoding to read it as "
            "(the repair 'replace' swaps undecodable bytes for U+FFFD and counts them)",
            line=_line_of(data, bad),
        )
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(text_sample: str) -> str:
    """The candidate that splits the first lines into the same number (>1) of fields most often."""
    lines = text_sample.splitlines()[:50]
    if len(lines) > 1 and not text_sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    best, best_score = ",", (-1, -1)
    for cand in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=cand) if r]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        same = sum(1 for c in counts if c == counts[0])
        score = (same, counts[0])
        if score > best_score:
            best, best_score = cand, score
    return best


def _locate_csv_problem(path, text: str, delimiter: str, ncols: int, max_line: int, rows_before: int = 0):
    """Second pass with the csv module: returns (line, message) of the first bad record.

    `text` is the header and records; `rows_before` counts the data rows before them (a
    block of a streamed file), so the message names the row of the file."""
    csv.field_size_limit(max(max_line, 1 << 16))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row_no = 0
    try:
        for row in reader:
            if row_no == 0:
                row_no = 1 + rows_before
                continue
            if not row:
                continue
            if len(row) != ncols:
                return reader.line_num, (
                    f"data row {row_no} has {len(row)} fields, the header has {ncols} "
                    "(ragged row; fix it or choose the repair 'skip' to drop such rows, counted)")
            row_no += 1
    except csv.Error as exc:
        return reader.line_num, f"data row {row_no}: {exc}"
    return None, None


def read_table(path, *, delimiter: str | None = None, encoding: str | None = None,
               repair: str | None = None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
               allow_empty: bool = False) -> Table:
    """Read CSV/TSV/Parquet/JSONL into a Table of string columns.

    repair: None (any problem is an error), "skip" (drop ragged rows, counted) or
    "replace" (undecodable bytes become U+FFFD, counted).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(p, allow_empty)
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(p, allow_empty)
    return _read_csv(p, delimiter, encoding, repair, max_line_bytes, allow_empty)


def _all_strings(path, table, allow_empty):
    import pyarrow as pa

    if table.num_columns == 0:
        raise InputError(path, "the file is empty")
    if table.num_rows == 0 and not allow_empty:
        raise InputError(path, "the file has a header but no data rows")
    cols = [c.cast(pa.string()) if c.type != pa.string() else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


def _read_parquet(p, allow_empty):
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputError(p, f"not a readable Parquet file ({exc})") from exc
    return Table(str(p), _all_strings(p, t, allow_empty))


def _read_jsonl(p, allow_empty):
    import pyarrow.json as pj

    if p.stat().st_size == 0:
        raise InputError(p, "the file is empty")
    try:
        t = pj.read_json(p)
    except Exception as exc:
        m = re.search(r"[Rr]ow #?(\d+)", str(exc))
        raise InputError(p, f"not valid JSON Lines ({exc})",
                         line=int(m.group(1)) if m else None) from exc
    return Table(str(p), _all_strings(p, t, allow_empty))


def _read_csv(p, delimiter, encoding, repair, max_line_bytes, allow_empty) -> Table:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw = p.read_bytes()
    if not raw.strip():
        raise InputError(p, "the file is empty")
    repairs: dict = {}
    enc = encoding or sniff_encoding(p, raw)
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        if repair != "replace":
            raise InputError(p, f"byte 0x{raw[exc.start]:02x} cannot be decoded as {enc} "
                             "(pass another encoding, or the repair 'replace')",
                             line=_line_of(raw, exc.start)) from exc
        text = raw.decode(enc, errors="replace")
        repairs["replaced_characters"] = text.count("\ufffd")
    if text.startswith("\ufeff"):
        text = text[1:]
    data = raw if (enc == "utf-8" and not repairs) else text.encode("utf-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(p, "contains a NUL byte (binary data or a UTF-16 file without BOM; "
                         "pass the right encoding)", line=_line_of(data, nul))
    # Longest line, vectorised: a line over the limit is refused before parsing.
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    bounds = np.concatenate(([-1], nl, [len(data)]))
    lengths = np.diff(bounds) - 1
    longest = int(lengths.argmax())
    if lengths[longest] > max_line_bytes:
        raise InputError(p, f"line is {int(lengths[longest]):,} bytes long, over the reader's "
                         f"limit of {max_line_bytes:,} bytes", line=longest + 1)
    delim = delimiter or sniff_delimiter(text[:_SNIFF_BYTES])
    header_line = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([header_line], delimiter=delim))
    if not any(h.strip() for h in header):
        raise InputError(p, "the first line (the header) is empty", line=1)
    seen = set()
    for i, h in enumerate(header):
        if not h.strip():
            raise InputError(p, f"header field {i + 1} is empty; every column needs a name", line=1)
        if h in seen:
            raise InputError(p, f"column name {h!r} appears twice in the header", line=1)
        seen.add(h)
    skipped = []

    def on_invalid(row):
        if repair == "skip":
            skipped.append(row.text)
            return "skip"
        return "error"

    try:
        t = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=max(1 << 22, 2 * max_line_bytes)),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True,
                                              invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        line, msg = _locate_csv_problem(p, text, delim, len(header), max_line_bytes)
        raise InputError(p, msg or f"cannot be parsed as CSV ({exc})", line=line) from exc
    if skipped:
        repairs["skipped_rows"] = len(skipped)
    if t.num_rows == 0 and not allow_empty:
        raise InputError(p, "the file has a header but no data rows")
    return Table(str(p), t, delimiter=delim, encoding=enc, repairs=repairs)


def _record_cut(data: bytes) -> int:
    """Offset just past the last newline that ends a record (not one inside quotes), or 0."""
    if b'"' not in data:  # no quoting in the block: a memchr instead of counting quotes
        return data.rfind(b"\n") + 1
    pos = data.rfind(b"\n")
    while pos >= 0:
        if data.count(b'"', 0, pos) % 2 == 0:
            return pos + 1
        pos = data.rfind(b"\n", 0, pos)
    return 0


@dataclass
class CsvFormat:
    """How a streamed CSV is read: the same for the reading process and for worker processes
    that parse byte ranges of it (picklable: plain values, no pyarrow objects)."""

    path: str
    encoding: str
    delimiter: str
    header: list
    header_text: str  # the header line, decoded (error location re-reads it with each block)
    data_start: int  # byte offset of the first data line

    @property
    def utf8(self) -> bool:
        return self.encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")


def csv_format(path, *, delimiter: str | None = None, encoding: str | None = None) -> CsvFormat:
    """Sniff a CSV for streaming: encoding and delimiter from the first 64 KiB, the header line."""
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputError(p, "the file is empty")
    if encoding is None:
        # Cut at the last newline so a multibyte character split by the sample is not blamed.
        cut = head.rfind(b"\n")
        encoding = sniff_encoding(p, head[: cut + 1] if cut > 0 else head)
    if encoding.replace("_", "-").lower().startswith("utf-16"):
        raise InputError(p, "streaming needs a UTF-8 or 8-bit encoding; convert the UTF-16 file first")
    text = head.decode(encoding, errors="replace")
    delim = delimiter or sniff_delimiter(text)
    with open(p, "rb") as fh:
        first = fh.readline()
    start = len(first)
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8):]
    header_text = first.decode(encoding)
    header = next(csv.reader([header_text.rstrip("\r\n")], delimiter=delim))
    return CsvFormat(str(p), encoding, delim, header, header_text, start)


def iter_csv_ranges(fmt: CsvFormat, *, block_size: int = 1 << 23,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES):
    """(start, end, lines before, data) of blocks of whole records, in file order.

    Blocks are cut at record boundaries (quote-aware: the quote count from the start of a
    block, which always starts a record); `lines before` counts the file's lines before the
    block (the header included), so a block parsed anywhere can name the file's line."""
    p = Path(fmt.path)
    with open(p, "rb") as fh:
        fh.seek(fmt.data_start)
        offset = fmt.data_start
        line_no = 1  # lines consumed so far
        rest = b""
        while True:
            chunk = fh.read(block_size)
            data = rest + chunk
            if chunk:
                cut = _record_cut(data)
                if cut == 0:
                    if len(data) > max_line_bytes:
                        raise InputError(p, f"a line is over the reader's limit of {max_line_bytes:,} bytes",
                                         line=line_no + 1)
                    rest = data
                    continue
                rest, data = data[cut:], data[:cut]
            else:
                rest = b""
                if not data.strip():
                    return
            yield offset, offset + len(data), line_no, data
            offset += len(data)
            line_no += data.count(b"\n")
            if not chunk:
                return


def iter_record_cuts(fmt: CsvFormat, *, block_size: int = 1 << 23,
                     max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, start: int | None = None,
                     tail_bytes: int = 0):
    """(start, end) of blocks of whole records, for a reader that hands the ranges to other
    processes: no block is copied or kept, no line counted (the worker that parses a range
    counts its lines). `start`: a record boundary to begin at (default: the first record).
    `tail_bytes`: the last that many bytes go in quarter-size blocks, so that parallel
    workers finish together rather than one waiting on another's last large block."""
    p = Path(fmt.path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        start = fmt.data_start if start is None else start
        want = block_size if size - start > tail_bytes else max(1, block_size // 4)
        while start < size:
            fh.seek(start)
            data = fh.read(want)
            if start + len(data) >= size:  # the last block: to the end of the file
                if data.strip():
                    yield start, start + len(data)
                return
            cut = _record_cut(data)
            if cut == 0:
                if len(data) > max_line_bytes:
                    raise InputError(p, f"a line is over the reader's limit of {max_line_bytes:,} bytes",
                                     line=_lines_before(p, fmt.data_start, start) + 1)
                want += block_size  # one record longer than the block: read on until it ends
                continue
            yield start, start + cut
            start += cut
            want = block_size if size - start > tail_bytes else max(1, block_size // 4)


def _lines_before(p, data_start: int, offset: int) -> int:
    """Lines of the file before `offset` (the header's included); counted only for an error."""
    lines = 1
    with open(p, "rb") as fh:
        fh.seek(data_start)
        left = offset - data_start
        while left > 0:
            chunk = fh.read(min(left, 1 << 22))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            left -= len(chunk)
    return lines


def _csv_read_options(fmt: CsvFormat, block_size: int, use_threads: bool):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return dict(
        read_options=pacsv.ReadOptions(column_names=fmt.header, block_size=max(block_size, 1 << 20),
                                       use_threads=use_threads),
        parse_options=pacsv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in fmt.header},
            strings_can_be_null=False, quoted_strings_can_be_null=False))


def parse_csv_block(fmt: CsvFormat, data: bytes, line_no: int, *, rows_before: int = 0, opts=None,
                    block_size: int = 1 << 23, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                    use_threads: bool = False):
    """One block of whole records (from `iter_csv_ranges`) as a pyarrow Table of string columns;
    a problem is an InputError naming the file's line (and data row: `rows_before` counts
    the rows of the blocks before this one)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    p = Path(fmt.path)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(p, "contains a NUL byte", line=line_no + _line_of(data, nul))
    try:
        text_block = None if fmt.utf8 else data.decode(fmt.encoding)
    except UnicodeDecodeError as exc:
        raise InputError(p, f"byte 0x{data[exc.start]:02x} cannot be decoded as {fmt.encoding}",
                         line=line_no + _line_of(data, exc.start)) from exc
    raw = data if fmt.utf8 else text_block.encode("utf-8")
    try:
        return pacsv.read_csv(io.BytesIO(raw), **(opts or _csv_read_options(fmt, block_size, use_threads)))
    except pa.ArrowInvalid as exc:
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise InputError(p, f"byte 0x{raw[uexc.start]:02x} is not UTF-8 (pass an encoding)",
                             line=line_no + _line_of(raw, uexc.start)) from exc
        line, msg = _locate_csv_problem(p, fmt.header_text + decoded, fmt.delimiter,
                                        len(fmt.header), max_line_bytes, rows_before)
        raise InputError(p, msg or f"cannot be parsed as CSV ({exc})",
                         line=None if line is None else line_no + line - 1) from exc


def iter_csv_batches(path, *, delimiter: str | None = None, encoding: str | None = None,
                     block_size: int = 1 << 23, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                     use_threads: bool = True):
    """Stream a CSV as pyarrow RecordBatches of string columns; memory does not grow with the file.

    The file is read in blocks cut at record boundaries (quote-aware) and each block
    is parsed by pyarrow on its own: pyarrow's own streaming reader was measured to
    grow with the file. Encoding and delimiter are sniffed from the first 64 KiB.
    """
    fmt = csv_format(path, delimiter=delimiter, encoding=encoding)
    opts = _csv_read_options(fmt, block_size, use_threads)
    rows = 0
    for _start, _end, line_no, data in iter_csv_ranges(fmt, block_size=block_size,
                                                       max_line_bytes=max_line_bytes):
        table = parse_csv_block(fmt, data, line_no, rows_before=rows, opts=opts,
                                max_line_bytes=max_line_bytes)
        rows += table.num_rows
        yield from table.to_batches()
    if not rows:
        raise InputError(Path(path), "the file has a header but no data rows")


def _locate_stream(p, encoding, delimiter, ncols):
    """Find the first bad record by streaming the file through the csv module."""
    with open(p, newline="", encoding=encoding, errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        row_no = 0
        try:
            for row in reader:
                if not row:
                    continue
                row_no += 1
                if len(row) != ncols:
                    return reader.line_num, (f"data row {row_no} has {len(row)} fields, "
                                             f"the header has {ncols}")
        except csv.Error as exc:
            return reader.line_num, f"data row {row_no + 1}: {exc}"
    return None, None
