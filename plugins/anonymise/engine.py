"""The anonymisation pipeline: read, transform, generalise, write atomically, verify.

A policy (JSON or TOML) says what happens to each column; keys come in as bytes
from the caller (the OS keyring in the plugin), never from the policy.

Order of work: risk before; search the lattice (if quasi-identifiers have
hierarchies); transform direct identifiers; drop the suppressed rows; shuffle
(unless keep_order); write to a temporary file; verify the temporary file; rename.
A failed verification raises VerificationError and leaves no output.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AnonymiseError, VerificationError

# per-value policies stream above this size: memory stays flat (a few blocks) at any size
STREAM_THRESHOLD_BYTES = 8 << 20
TRANSFORMS = ("keep", "drop", "redact", "mask", "pseudonymise", "tokenise", "surrogate", "scrub",
              "shift_dates", "noise")


@dataclass
class Policy:
    columns: dict = field(default_factory=dict)  # column -> {"transform": ..., options}
    qi: dict = field(default_factory=dict)  # column -> ARX hierarchy CSV path
    sensitive: list = field(default_factory=list)
    sensitive_hierarchies: dict = field(default_factory=dict)
    k: int = 1
    l_diversity: dict = field(default_factory=dict)  # column -> "distinct:2" ...
    t_closeness: dict = field(default_factory=dict)  # column -> "equal:0.2" ...
    suppression: float = 0.0
    metric: str = "loss"
    keep_order: bool = False
    risk_threshold: float = 0.2
    delimiter: str | None = None
    encoding: str | None = None
    repair: str | None = None  # None: problems are errors; "skip" ragged rows / "replace" bad bytes, counted

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict, source: str = "<policy>") -> "Policy":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise AnonymiseError(f"{source}: unknown policy key(s) {sorted(unknown)}")
        p = cls(**d)
        if p.repair not in (None, "skip", "replace"):
            raise AnonymiseError(f"{source}: repair must be 'skip' or 'replace', not {p.repair!r}")
        for col, spec in p.columns.items():
            t = spec.get("transform", "keep")
            if t not in TRANSFORMS:
                raise AnonymiseError(f"{source}: column {col!r}: unknown transform {t!r} "
                                     f"(one of {', '.join(TRANSFORMS)})")
        return p


def load_policy(path) -> Policy:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise AnonymiseError(f"{p}: no such policy file") from None
    try:
        if p.suffix.lower() == ".toml":
            import tomllib

            d = tomllib.loads(raw.decode("utf-8"))
        else:
            d = json.loads(raw.decode("utf-8"))
    except Exception as exc:
        raise AnonymiseError(f"{p}: not a valid policy file ({exc})") from exc
    return Policy.from_dict(d, str(p))


def models_of(policy: Policy):
    from .lattice import PrivacyModels, parse_l_diversity, parse_t_closeness

    return PrivacyModels(
        k=int(policy.k),
        l_diversity=[parse_l_diversity(c, s) for c, s in policy.l_diversity.items()],
        t_closeness=[parse_t_closeness(c, s) for c, s in policy.t_closeness.items()],
    )


DEFAULT_TRANSFORMS = {"person_name": "surrogate", "email": "pseudonymise", "phone": "mask",
                      "iban": "tokenise", "credit_card": "mask", "national_id": "pseudonymise",
                      "identifier": "pseudonymise", "ip_address": "pseudonymise", "mac_address": "pseudonymise",
                      "url": "redact", "free_text_pii": "scrub", "street_address": "redact"}


def detect_policy(table, decisions=None) -> Policy:
    """A starting policy from detection: what a user edits and passes back with --policy.
    *decisions*: `detect.detect_table`'s, when they were already made (the tab shows them).

    Detected sensitive columns are marked by their role only: a privacy model applies to the
    columns a user names (`make_policy(sensitive=...)`), never silently to detected ones."""
    from . import detect

    cols = {}
    for d in detect.detect_table(table) if decisions is None else decisions:
        cols[d.column] = {"entity": d.entity, "role": d.role, "confidence": d.confidence,
                          "transform": DEFAULT_TRANSFORMS.get(d.entity, "keep")}
    return Policy(columns=cols)


def hierarchy_beside(data_path, column: str) -> str:
    """The ARX hierarchy of *column* next to the data by ARX's naming
    (``<dataset>_hierarchy_<column>.csv``), or "" when there is none."""
    import os

    stem = os.path.splitext(os.path.abspath(data_path))[0]
    candidate = f"{stem}_hierarchy_{column}.csv"
    return candidate if os.path.exists(candidate) else ""


def detected_sensitive(policy: Policy) -> list:
    return [c for c, s in policy.columns.items() if s.get("role") == "sensitive"]


def make_policy(table, *, base: Policy | None = None, roles: dict | None = None,
                transforms: dict | None = None, qi: dict | None = None, sensitive=None,
                k: int | None = None, l_diversity: str | None = None, t_closeness: str | None = None,
                source: str = "policy", **settings) -> Policy:
    """The one way a policy is built, by the CLI and by the tab alike; refuses what cannot run.

    base: a policy file's policy, else the detected one. roles / transforms: per-column choices
    (the tab's inspector). qi: column -> ARX hierarchy path, or "auto" (or "") for a hierarchy
    built from the data. When a privacy model is asked for and no quasi-identifier is named,
    the columns whose role is quasi-identifier are used, with automatic hierarchies.
    sensitive: the columns l-diversity / t-closeness apply to, and only those.
    settings: suppression, metric, keep_order, delimiter, encoding, repair, risk_threshold.
    """
    from .hierarchy import AUTO

    # a copy: the caller's policy (a file's) is left as it was
    policy = Policy.from_dict(json.loads(json.dumps(base.to_dict())), source) if base is not None \
        else detect_policy(table)
    for col, role in (roles or {}).items():
        policy.columns.setdefault(col, {})["role"] = role
    for col, t in (transforms or {}).items():
        policy.columns.setdefault(col, {})["transform"] = t
    for col, path in (qi or {}).items():
        policy.qi[col] = path or AUTO
    for col in policy.qi:
        policy.columns.setdefault(col, {}).update(role="quasi_identifier", transform="keep")
    for col in sensitive or ():
        if col not in policy.sensitive:
            policy.sensitive.append(col)
    if k is not None:
        policy.k = int(k)
    for name, value in settings.items():
        if name not in policy.__dataclass_fields__:
            raise AnonymiseError(f"{source}: unknown setting {name!r}")
        if value is not None:
            setattr(policy, name, value)
    if l_diversity:
        if not policy.sensitive:
            raise AnonymiseError(_needs_sensitive("l-diversity", policy))
        policy.l_diversity.update({c: l_diversity for c in policy.sensitive})
    if t_closeness:
        if not policy.sensitive:
            raise AnonymiseError(_needs_sensitive("t-closeness", policy))
        policy.t_closeness.update({c: t_closeness for c in policy.sensitive})
    wants_model = int(policy.k) > 1 or policy.l_diversity or policy.t_closeness
    if wants_model and not policy.qi:
        policy.qi = {c: AUTO for c, s in policy.columns.items()
                     if s.get("role") == "quasi_identifier" and c not in policy.sensitive}
        for col in policy.qi:
            policy.columns[col]["transform"] = "keep"
    check_policy(policy, table, source)
    return policy


def _needs_sensitive(model: str, policy: Policy) -> str:
    found = detected_sensitive(policy)
    return (f"{model} needs at least one sensitive column (--sensitive COLUMN, or the role 'sensitive' "
            f"in the tab)" + (f"; detected as sensitive: {', '.join(found)}" if found else ""))


def check_policy(policy: Policy, table, source: str = "policy") -> dict:
    """Refuse what cannot run, with the reason; returns the hierarchies (built or read) by column.

    The engine calls this before any work, and so do the CLI and the tab before they start a
    job: all three refuse the same things with the same message."""
    path = getattr(table, "path", None) or source
    for col in list(policy.columns) + list(policy.qi) + list(policy.sensitive):
        if col not in table.columns:
            raise AnonymiseError(f"{path}: the policy names column {col!r}, which the file "
                                 f"does not have (columns: {', '.join(table.columns)})")
    wants_model = int(policy.k) > 1 or policy.l_diversity or policy.t_closeness
    if wants_model and not policy.qi:
        raise AnonymiseError(f"k = {policy.k}{', l-diversity' if policy.l_diversity else ''}"
                             f"{', t-closeness' if policy.t_closeness else ''} need quasi-identifiers: "
                             "none is marked (give --qi COLUMN[=HIERARCHY.csv|auto], or the role "
                             "quasi_identifier in the tab), or set k to 1")
    for col in list(policy.l_diversity) + list(policy.t_closeness):
        if col not in policy.sensitive:
            raise AnonymiseError(f"l-diversity/t-closeness of {col!r}: list it as a sensitive column")
    both = set(policy.qi) & set(policy.sensitive)
    if both:
        raise AnonymiseError(f"{', '.join(sorted(both))}: a column is either a quasi-identifier or sensitive")
    models_of(policy)  # the model specs parse, for a clear error
    return resolve_hierarchies(policy, table)


def resolve_hierarchies(policy: Policy, table=None, *, values=None) -> dict:
    """Column -> Hierarchy: read from the ARX file, or built from the column's values ("auto"):
    ``table.values(col)``, or ``values(col)`` where there is no table (a cluster's distinct values;
    the builders read the set of values only)."""
    from .hierarchy import AUTO, auto_hierarchy, read_arx_hierarchy

    values = values or table.values
    out = {}
    for col, path in policy.qi.items():
        if not path or path == AUTO:
            out[col] = auto_hierarchy(values(col), policy.columns.get(col, {}).get("entity"), name=col)
        else:
            out[col] = read_arx_hierarchy(path, name=col)
    return out


def sensitive_columns(policy: Policy) -> list:
    """The sensitive columns as the lattice takes them: a name, or (name, Hierarchy) where the
    policy gives one (hierarchical t-closeness)."""
    from .hierarchy import read_arx_hierarchy

    return [(c, read_arx_hierarchy(policy.sensitive_hierarchies[c], name=c))
            if c in policy.sensitive_hierarchies else c for c in policy.sensitive]


def row_identifier_columns(policy: Policy) -> list:
    """(column, entity) of the direct identifiers a row's free text is scrubbed of."""
    return [(c, s.get("entity")) for c, s in policy.columns.items()
            if s.get("role") == "direct_identifier" and s.get("entity") not in ("free_text_pii", "free_text")]


def _apply_column(name, array, spec, keys, table, surrogates, own=()):
    from . import detect, transforms as T

    t = spec.get("transform", "keep")

    def key(kind="pseudonym"):
        kid = spec.get("key", kind)
        if kid not in keys:
            raise AnonymiseError(f"column {name!r}: transform {t!r} needs key {kid!r}, "
                                 "which was not provided")
        return kid, keys[kid]

    if t == "keep":
        return array, {}
    if t == "redact":
        return T.redact(array, spec.get("token", "[REDACTED]")), {}
    if t == "mask":
        return T.mask(array, int(spec.get("keep_first", 0)), int(spec.get("keep_last", 4)),
                      spec.get("char", "*")), {}
    if t == "pseudonymise":
        return T.pseudonymise(array, key()[1], spec.get("prefix", "")), {}
    if t == "tokenise":
        kid, k = key("token")
        return T.tokenise(array, k, kid, spec.get("domain", name)), {"key_id": kid}
    if t == "surrogate":
        kid, k = key()
        s = surrogates.setdefault(kid, T.SurrogateNames(k, spec.get("locale", "en_US")))
        return s.apply(array), {}
    if t == "scrub":
        # the row's own identifiers (its original name, email, phone, ids) go wherever they occur
        own_cols = [(ent, table.data.column(c).combine_chunks()) for c, ent in own
                    if c != name and c in table.columns]
        out, spans = detect.scrub_array(array, own_cols)
        return out, {"spans_scrubbed": spans}
    if t == "shift_dates":
        subj = spec.get("subject")
        if subj is None or subj not in table.columns:
            raise AnonymiseError(f"column {name!r}: shift_dates needs 'subject', a column naming the person")
        return T.shift_dates(array, table.data.column(subj).combine_chunks(), key()[1],
                             int(spec.get("max_days", 180))), {}
    if t == "noise":
        return T.add_noise(array, float(spec.get("scale", 1.0)), spec.get("seed"),
                           spec.get("kind", "laplace")), {}
    raise AnonymiseError(f"column {name!r}: unknown transform {t!r}")


def anonymise_file(in_path, out_path, policy: Policy, keys: dict | None = None,
                   progress=None, check_cancelled=None, shuffle_seed=None, workers: int | None = None) -> dict:
    """Run the whole pipeline; returns the summary dict (see module docstring).

    A full disk (or quota, or file size limit) while the output or its temporary files are
    written is an :class:`AnonymiseError` naming the output: the output is built beside it and
    renamed into place only when complete, so an earlier file of that name is left as it was."""
    from .writer import room_for

    with room_for(out_path):
        return _anonymise_file(in_path, out_path, policy, keys, progress, check_cancelled, shuffle_seed, workers)


def _anonymise_file(in_path, out_path, policy: Policy, keys, progress, check_cancelled, shuffle_seed,
                    workers) -> dict:
    import numpy as np
    import pyarrow as pa

    from . import lattice as L
    from . import risk as R
    from .reader import read_table
    from .writer import atomic_path, write_table

    keys = keys or {}
    t0 = time.perf_counter()
    if Path(out_path).suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise AnonymiseError(f"{out_path}: the verified output is CSV or TSV; name it .csv or .tsv")
    from workbench.api import check_writable_target

    check_writable_target(out_path)  # not a folder, a device, a missing folder or a project file
    if Path(in_path).exists() and Path(out_path).exists() and Path(in_path).samefile(out_path):
        raise AnonymiseError(f"{out_path}: the output would replace the input; choose another name")
    from . import distributed

    if distributed.cluster() is not None:  # --ray: read, count, transform and check on the workers
        return distributed.anonymise_on_cluster(in_path, out_path, policy, keys, progress, check_cancelled,
                                                shuffle_seed)
    if (not policy.qi and Path(in_path).suffix.lower() in (".csv", ".tsv", ".txt")
            and Path(in_path).is_file() and Path(in_path).stat().st_size > STREAM_THRESHOLD_BYTES):
        # per-value transforms only: stream, so memory does not grow with the file
        return anonymise_stream(in_path, out_path, policy, keys, progress, check_cancelled, workers=workers)
    step = (lambda d, m: progress(d, 6, m)) if progress else (lambda d, m: None)
    step(0, "reading")
    table = read_table(in_path, delimiter=policy.delimiter, encoding=policy.encoding, repair=policy.repair)
    qis = list(policy.qi)
    hierarchies = check_policy(policy, table, str(in_path))
    models = models_of(policy)
    risk_before = R.risk_profile(table, qis, policy.risk_threshold) if qis else None
    summary: dict = {"input": str(in_path), "output": str(out_path), "rows_in": table.num_rows,
                     "repairs": table.repairs, "metric": policy.metric, "levels": {},
                     "suppressed_rows": 0, "information_loss": None,
                     "models": models.describe(), "transforms": {}}
    keep = np.ones(table.num_rows, dtype=bool)
    columns = {c: table.data.column(c).combine_chunks() for c in table.columns}
    if check_cancelled:
        check_cancelled()
    if qis:
        step(1, "searching the generalisation lattice")
        enc = L.encode(table, hierarchies, sensitive_columns(policy))
        res = L.search(enc, models, policy.suppression, policy.metric, check_cancelled=check_cancelled)
        gen_cols, suppressed, _ = L.transform_columns(enc, res.node, models, policy.suppression)
        for c, arr in gen_cols.items():
            columns[c] = pa.array(arr, type=pa.string())
        keep &= ~suppressed
        summary.update(levels=res.levels, suppressed_rows=res.suppressed_rows,
                       information_loss=res.information_loss, nodes_checked=res.nodes_checked,
                       lattice_nodes=res.nodes_total, search_seconds=res.seconds)
    step(2, "transforming columns")
    surrogates: dict = {}
    direct_originals = {}
    for name, spec in policy.columns.items():
        t = spec.get("transform", "keep")
        if name in policy.qi:
            continue
        if spec.get("role") == "direct_identifier" or t in ("drop", "redact", "mask", "pseudonymise",
                                                            "tokenise", "surrogate"):
            # what must not appear anywhere in the output, whatever the transform
            direct_originals[name] = table.values(name)
        if t == "keep":
            continue
        if t == "drop":
            columns.pop(name, None)
            summary["transforms"][name] = {"transform": "drop"}
            continue
        out, info = _apply_column(name, columns[name], spec, keys, table, surrogates,
                                  row_identifier_columns(policy))
        columns[name] = out
        summary["transforms"][name] = {"transform": t, **info}
        if check_cancelled:
            check_cancelled()
    out_table = pa.table(list(columns.values()), names=list(columns))
    rows_idx = np.flatnonzero(keep)
    if not policy.keep_order:
        from .transforms import shuffle_permutation

        rows_idx = rows_idx[shuffle_permutation(len(rows_idx), shuffle_seed)]
    out_table = out_table.take(pa.array(rows_idx))
    step(3, "writing")
    out_p = Path(out_path)
    delim = "\t" if out_p.suffix.lower() == ".tsv" else ","
    with atomic_path(out_p) as tmp:
        info = write_table(tmp, out_table, delimiter=delim)
        step(4, "verifying")
        checks = _verify(tmp, delim, table, direct_originals, qis, models, hierarchies,
                         summary["levels"], info["formulas_neutralised"])
        summary["verification"] = checks
        failed = [c["detail"] for c in checks if not c["ok"]]
        if failed:
            raise VerificationError(failed)
    step(5, "risk after")
    if qis:
        summary["hierarchies"] = _save_hierarchies(out_p, policy, hierarchies)
    summary["detected_sensitive"] = detected_sensitive(policy)
    summary["formulas_neutralised"] = info["formulas_neutralised"]
    summary["rows_out"] = int(len(rows_idx))
    if qis:
        written = read_table(out_p, delimiter=delim, allow_empty=True)
        summary["risk_before"] = risk_before
        summary["risk_after"] = R.risk_profile(written, qis, policy.risk_threshold)
        summary["p_reidentification"] = summary["risk_after"]["p_reidentification"]
    summary["seconds"] = time.perf_counter() - t0
    step(6, "done")
    return summary


def hierarchy_folder(out_path) -> Path:
    """Where the automatic hierarchies of a run are saved for review: `<output stem>-hierarchies/`.
    They hold original quasi-identifier values, like any ARX hierarchy: not for release."""
    p = Path(out_path)
    return p.with_name(p.stem + "-hierarchies")


def _save_hierarchies(out_path, policy: Policy, hierarchies: dict) -> dict:
    """Automatic hierarchies written as ARX CSVs (`<column>.csv`); each column's source and shape."""
    import os

    from workbench.api import is_no_room

    from .hierarchy import AUTO, describe_hierarchy, write_arx_hierarchy

    out = {}
    for col, h in hierarchies.items():
        entry = {"levels": h.height, "example": describe_hierarchy(h)}
        if policy.qi.get(col) in ("", None, AUTO):
            folder = hierarchy_folder(out_path)
            folder.mkdir(exist_ok=True)
            target = folder / f"{''.join(ch if ch.isalnum() or ch in '-_.' else '_' for ch in col)}.csv"
            try:
                write_arx_hierarchy(target, h)
            except OSError as exc:
                # the output is in place already: "nothing was written" (anonymise_file's full-disk
                # message) would be untrue, so say what was written and what was not
                if not is_no_room(exc):
                    raise
                raise AnonymiseError(
                    f"{target}: no room to save this automatic hierarchy for review ({os.strerror(exc.errno)}: "
                    f"the disk or quota is full, or a file size limit was reached). The output {out_path} was "
                    "written and verified; this hierarchy was not saved (an earlier file of that name is "
                    "unchanged).") from exc
            entry.update(source="auto", kind=getattr(h, "kind", ""), file=str(target))
        else:
            entry.update(source="file", file=str(policy.qi[col]))
        out[col] = entry
    return out


def _verify(path, delimiter, table, direct_originals, qis, models, hierarchies, levels, neutralised):
    from . import verify as V

    header, rows = V.read_output_rows(path, delimiter)
    if neutralised:
        # the writer prefixed formula cells with a quote; compare the values themselves
        rows = [[c[1:] if c.startswith("'") else c for c in r] for r in rows]
    checks = [V.check_leaks(direct_originals, header, rows)]
    if qis:
        checks.append(V.check_privacy(header, rows, qis, models.k, models.l_diversity,
                                      models.t_closeness, hierarchies))
        checks.append(V.check_linkage(table, hierarchies, levels, header, rows, models.k))
    return checks


STREAM_BUCKET_BYTES = 32 << 20
STREAM_MAX_BUCKETS = 512  # open files at once; past 16 GiB the buckets grow instead


def _leak_key(array):
    """Lower case without spaces, vectorised: the comparison form of the leak check.

    ASCII data takes the ASCII kernel (the same result, far cheaper), and a kind of space
    is removed only when its bytes occur in the column at all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .transforms import _data_bytes, _is_ascii

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    out = pc.ascii_lower(array) if _is_ascii(array) else pc.utf8_lower(array)
    data = _data_bytes(out)
    for ws, marker in ((" ", b" "), ("\t", b"\t"), ("\u00a0", b"\xa0")):   # 0xA0: NBSP's second UTF-8 byte
        if marker in data:
            out = pc.replace_substring(out, ws, "")
    return out


def anonymise_stream(in_path, out_path, policy: Policy, keys: dict | None = None,
                     progress=None, check_cancelled=None, block_size: int = 1 << 23, seed=None,
                     workers: int | None = None) -> dict:
    """Per-value transforms on a CSV of any size, in bounded memory.

    Used when the policy has no quasi-identifiers (generalisation needs the whole
    table). Pass 1 reads blocks, transforms them, checks each block for leaks (an
    output cell equal to an original direct identifier of the block, after
    normalisation, or one inside a scrubbed text) and deals its rows at random into
    bucket files; pass 2 shuffles each bucket in memory and appends it to the output.
    Rows end up in a uniformly random order, as in the in-memory path.

    workers > 1: that many processes each read, transform, check and write their own byte
    ranges of the file (parallel.py; the keys reach them through the pool's pipe, never a
    file); None: one per core for files over 32 MiB. Surrogate names keep one mapping for
    the whole file, so a policy with surrogates runs in one process.
    """
    import os
    import tempfile
    from contextlib import closing

    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from .overlap import InOrder, prefetch
    from .transforms import shuffle_permutation
    from .writer import StreamingCsvWriter

    if policy.qi or int(policy.k) > 1 or policy.l_diversity or policy.t_closeness:
        raise AnonymiseError("streaming handles per-value transforms only; quasi-identifiers and "
                             "privacy models need the whole table (anonymise_file)")
    keys = keys or {}
    t0 = time.perf_counter()
    size = os.path.getsize(in_path)
    n_buckets = min(STREAM_MAX_BUCKETS, max(1, -(-size // STREAM_BUCKET_BYTES)))
    rng = np.random.default_rng(seed)
    summary: dict = {"input": str(in_path), "output": str(out_path), "metric": None, "levels": {},
                     "suppressed_rows": 0, "information_loss": None, "models": [], "transforms": {},
                     "streamed": True, "buckets": int(n_buckets)}
    direct = [c for c, s in policy.columns.items()
              if s.get("role") == "direct_identifier" or s.get("transform") in
              ("drop", "redact", "mask", "pseudonymise", "tokenise", "surrogate")]
    if workers is None:
        from .parallel import default_workers

        workers = default_workers(size)
    if workers > 1 and not any(s.get("transform") == "surrogate" for s in policy.columns.values()):
        # each worker reads, transforms, checks and writes its own byte ranges (parallel.py)
        from .parallel import anonymise_parallel

        return anonymise_parallel(in_path, out_path, policy, keys, progress, check_cancelled,
                                  block_size=block_size, seed=seed, workers=workers, direct=direct,
                                  n_buckets=n_buckets)
    rows_in = 0
    leaks = 0
    leak_example = None
    with tempfile.TemporaryDirectory(prefix=".anon-", dir=os.path.dirname(os.path.abspath(out_path))) as tmpd:
        writers: list = [None] * n_buckets
        schema = None
        direct_writer = None
        delim = "\t" if str(out_path).lower().endswith(".tsv") else ","

        def deal(out_batch, which):
            # one stable sort by bucket and one take, instead of a filter per bucket: each
            # bucket gets the same rows in the same order
            order = np.argsort(which, kind="stable")
            counts = np.bincount(which, minlength=n_buckets)
            dealt = out_batch.take(pa.array(order))
            start = 0
            for b in np.flatnonzero(counts):
                if writers[b] is None:
                    writers[b] = ipc.new_stream(os.path.join(tmpd, f"b{b}.arrow"), schema)
                writers[b].write_batch(dealt.slice(start, int(counts[b])))
                start += int(counts[b])

        try:
            # writes (CSV or bucket files) run on their own thread, overlapping the hashing
            blocks = _stream_blocks(in_path, policy, keys, direct, block_size, workers, check_cancelled)
            with InOrder() as background, closing(blocks):
                for out_batch, n_rows, n_leaks, example, infos in blocks:
                    leaks += n_leaks
                    leak_example = leak_example or example
                    for name, info in infos.items():
                        prev = summary["transforms"].setdefault(name, {"transform": info["transform"]})
                        for k, v in info.items():
                            if k != "transform":
                                prev[k] = prev.get(k, 0) + v if isinstance(v, int) else v
                    if schema is None:
                        schema = out_batch.schema
                    rows_in += n_rows
                    if policy.keep_order:
                        # no shuffle asked for: write straight through; a leak aborts the whole output
                        if leaks:
                            raise VerificationError([f"{leaks} output cell(s) hold an original direct "
                                                     f"identifier, e.g. in column {leak_example!r}"])
                        if direct_writer is None:
                            direct_writer = StreamingCsvWriter(out_path, schema, delimiter=delim)
                        background.submit(direct_writer.write, out_batch)
                    else:
                        background.submit(deal, out_batch, rng.integers(0, n_buckets, out_batch.num_rows))
                    if progress:
                        progress(rows_in, 0, f"{rows_in:,} rows transformed")
        except BaseException as exc:
            if direct_writer is not None:
                direct_writer.abort(exc)
            for w in writers:
                if w is not None:
                    w.close()
            raise
        for w in writers:
            if w is not None:
                w.close()
        if direct_writer is not None:
            direct_writer.close()
            summary.update(rows_in=rows_in, rows_out=direct_writer.rows,
                           formulas_neutralised=direct_writer.formulas_neutralised,
                           verification=[{"name": "no original direct identifier in the output (per block)",
                                          "ok": True, "detail": f"{rows_in:,} rows checked block by block"}],
                           seconds=time.perf_counter() - t0)
            return summary
        if leaks:
            raise VerificationError([f"{leaks} output cell(s) hold an original direct identifier, "
                                     f"e.g. in column {leak_example!r}"])

        def shuffled_buckets():
            for b in range(n_buckets):
                path = os.path.join(tmpd, f"b{b}.arrow")
                if not os.path.exists(path):
                    continue
                with ipc.open_stream(path) as r:
                    bucket = r.read_all()
                yield bucket.take(pa.array(shuffle_permutation(bucket.num_rows)))

        writer = StreamingCsvWriter(out_path, schema, delimiter=delim)
        try:
            # the next bucket is read and shuffled on a thread while this one is written
            with closing(prefetch(shuffled_buckets(), depth=1, name="anonymise-buckets")) as buckets:
                for bucket in buckets:
                    for part in bucket.to_batches(max_chunksize=1 << 16):
                        writer.write(part)
            writer.close()
        except BaseException as exc:
            writer.abort(exc)
            raise
    summary.update(rows_in=rows_in, rows_out=writer.rows, formulas_neutralised=writer.formulas_neutralised,
                   verification=[{"name": "no original direct identifier in the output (per block)",
                                  "ok": True, "detail": f"{rows_in:,} rows checked block by block"}],
                   seconds=time.perf_counter() - t0)
    return summary


def _process_block(table, policy: Policy, keys: dict, surrogates: dict, direct: list, in_path):
    """Transform one block and count its leaks: (output batch, leaks, example column, infos)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import verify as V

    wrapper = SimpleNamespace(data=table, columns=table.column_names)
    cols = {c: table.column(c).combine_chunks() for c in table.column_names}
    for name in policy.columns:
        if name not in cols:
            raise AnonymiseError(f"{in_path}: the policy names column {name!r}, which the file "
                                 f"does not have (columns: {', '.join(table.column_names)})")
    infos: dict = {}
    for name, spec in policy.columns.items():
        t = spec.get("transform", "keep")
        if t == "keep":
            continue
        if t == "drop":
            cols.pop(name)
            infos[name] = {"transform": "drop"}
            continue
        out, info = _apply_column(name, cols[name], spec, keys, wrapper, surrogates,
                                  row_identifier_columns(policy))
        cols[name] = out
        infos[name] = {"transform": t, **info}
    leaks, example = 0, None
    if direct:
        # Row-aligned in this bounded-memory path: every output cell against the original
        # direct identifiers of its own row (the in-memory path compares against all rows).
        orig_keys = []
        for c in direct:
            k = _leak_key(table.column(c).combine_chunks())
            # values shorter than 4 characters say nothing: null never compares equal
            orig_keys.append(pc.if_else(pc.greater_equal(pc.utf8_length(k), 4), k, pa.scalar(None, pa.string())))
        for name, arr in cols.items():
            out_key = _leak_key(arr)
            for ok in orig_keys:
                count = pc.sum(pc.fill_null(pc.equal(out_key, ok), False)).as_py() or 0
                if count:
                    leaks += count
                    example = example or name
        # text cells (with a space) of columns not produced by a direct transform, token by token
        texts = None
        for name in (c for c in cols if c not in direct):
            arr = cols[name]
            spaced = arr.filter(pc.fill_null(pc.match_substring(arr, " "), False))
            if not len(spaced):
                continue
            if texts is None:
                texts = {V._norm(v): c for c in direct for v in table.column(c).to_pylist()
                         if v and len(V._norm(v)) >= 4}
            for cell in spaced.to_pylist():
                if V._find_in_cell(cell, texts, {}):
                    leaks += 1
                    example = example or name
    return pa.record_batch(list(cols.values()), names=list(cols)), leaks, example, infos


def _to_ipc(batch) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes):
    import pyarrow as pa
    import pyarrow.ipc as ipc

    return ipc.open_stream(pa.py_buffer(data)).read_next_batch()


def _stream_blocks(in_path, policy, keys, direct, block_size, workers, check_cancelled):
    """(output batch, rows, leaks, example, infos) per input block, in input order."""
    import pyarrow as pa

    from .overlap import prefetch
    from .reader import iter_csv_batches

    # one parsing thread: it already runs beside the hashing (prefetch), and pyarrow's own
    # threads measured more CPU and memory for no gain here
    batches = iter_csv_batches(in_path, delimiter=policy.delimiter, encoding=policy.encoding,
                               block_size=block_size, use_threads=False)
    # one process (several workers go through parallel.py): surrogate names keep one mapping
    surrogates: dict = {}
    # the next block is read and parsed on a thread while this one is hashed
    for batch in prefetch(batches):
        if check_cancelled:
            check_cancelled()
        out, leaks, example, infos = _process_block(pa.Table.from_batches([batch]), policy, keys,
                                                    surrogates, direct, in_path)
        yield out, batch.num_rows, leaks, example, infos


# --------------------------------------------------------------------- the job
def run(params, ctx) -> dict:
    """The ``anonymise`` job: the pipeline on ``params.target``, then the result recorded in the project."""
    import os

    from workbench.api import Finding, assign_fingerprints

    from .keys import CUSTODIAN_KEY, load_keys
    from .store import record_run

    policy = Policy.from_dict(dict(params.policy), "policy")
    keys = load_keys(policy, ctx)
    encrypt_keys = {}
    if params.encrypt_key:
        encrypt_keys = load_keys(None, ctx, names=[params.encrypt_key])
    elif params.recipients:
        encrypt_keys = load_keys(None, ctx, names=[CUSTODIAN_KEY])
    encrypted = bool(params.encrypt_key or params.recipients)
    out = params.output
    if encrypted:
        # the verified plaintext lives only as a hidden temporary file next to the output
        folder = os.path.dirname(os.path.abspath(params.output))
        out = os.path.join(folder, f".{os.path.basename(params.output)}.{os.getpid()}.plain.csv")
    try:
        summary = anonymise_file(params.target, out, policy, keys,
                                 progress=ctx.progress, check_cancelled=ctx.check_cancelled)
        if encrypted:
            from . import crypto

            if params.encrypt_key:
                crypto.encrypt_file(out, params.output, encrypt_keys[params.encrypt_key], params.encrypt_key)
            else:
                crypto.encrypt_for_recipients(out, params.output, {n: bytes.fromhex(h) for n, h in
                                                                   params.recipients.items()},
                                              custodian=(CUSTODIAN_KEY, encrypt_keys[CUSTODIAN_KEY]))
            summary["output"] = params.output
            summary["encrypted_to"] = crypto.recipients_of(params.output)
    finally:
        if encrypted and os.path.exists(out):
            os.unlink(out)
    from .transforms import hash_key_id

    key_ids = {name: hash_key_id(k) for name, k in {**keys, **encrypt_keys}.items()}
    summary["key_ids"] = key_ids
    findings = []
    after = summary.get("risk_after") or {}
    pros = after.get("prosecutor", {})
    if pros.get("records_at_risk", 0) > 0:
        findings.append(Finding(
            plugin="anonymise", rule="AN001", severity="MEDIUM", confidence="HIGH",
            title="Records above the re-identification threshold",
            message=f"{pros['records_at_risk']:.1%} of released records of {params.target} have a "
                    f"re-identification risk above {after.get('threshold')}", path=params.target))
    for name, spec in policy.columns.items():
        if spec.get("role") == "direct_identifier" and spec.get("transform", "keep") == "keep":
            findings.append(Finding(
                plugin="anonymise", rule="AN002", severity="HIGH", confidence="MEDIUM",
                title="Direct identifier kept", path=params.target,
                message=f"column {name!r} of {params.target} is a direct identifier and is released as is"))
    assign_fingerprints(findings, lambda f: f.message)
    record_run(ctx.store, ctx.run_id, params, policy, summary, key_ids, findings)
    return summary
