"""`workbench anonymise`: detect a policy, or anonymise a file (directly or as a project job)."""

from __future__ import annotations

import json
import os

from workbench.api import CliError, NullContext, job_command, open_project, project_argument, run_job

from .errors import AnonymiseError


def _cmd_on_cluster(plugin, args) -> int | tuple[int, dict]:
    from .distributed import on_cluster

    with on_cluster(getattr(args, "ray", None)):
        return _cmd(plugin, args)


def add_cli(plugin, cli) -> None:
    p = job_command(cli, "anonymise", "detect PII, pseudonymise and generalise a dataset "
                    "(k-anonymity, l-diversity, t-closeness), verify, write",
                    lambda args: _cmd_on_cluster(plugin, args),
                    project_about="the run, policy and results are stored there",
                    without_project="the output is written directly and nothing is recorded")
    p.add_argument("input", help="CSV/TSV, Parquet or JSON Lines file")
    p.add_argument("--detect", action="store_true", help="print the detected policy (JSON) to edit")
    p.add_argument("-o", "--output", help="output .csv/.tsv (written only if verification passes)")
    p.add_argument("--policy", help="policy file (JSON or TOML); flags override it")
    p.add_argument("--qi", action="append", default=[], metavar="COLUMN[=HIERARCHY.csv|auto]",
                   help="quasi-identifier with its ARX hierarchy (value;level1;...;*), or with none / "
                        "'auto' for one built from the data; without --qi, a privacy model uses the "
                        "detected quasi-identifiers with automatic hierarchies")
    p.add_argument("--sensitive", action="append", default=[], metavar="COLUMN",
                   help="a column the l-diversity / t-closeness flags apply to (only the columns named)")
    p.add_argument("--k", type=int)
    p.add_argument("--l-diversity", metavar="distinct:L|entropy:L|recursive:C:L",
                   help="applied to the --sensitive columns")
    p.add_argument("--t-closeness", metavar="equal:T|hierarchical:T",
                   help="applied to the --sensitive columns")
    p.add_argument("--suppression", type=float, help="largest fraction of rows that may be suppressed")
    p.add_argument("--metric", choices=["loss", "discernibility", "aecs", "entropy"])
    p.add_argument("--keep-order", action="store_true", help="do not shuffle the output rows")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for files streamed in blocks (no quasi-identifiers, over 8 MiB); "
                        "default: one per core for files over 32 MiB, else 1")
    p.add_argument("--encrypt-key", metavar="NAME", help="write the output encrypted to this key "
                   "(keyring name; needs -p)")
    p.add_argument("--encrypt-to", action="append", default=[], metavar="NAME=PUBKEY[:ROLE]",
                   help="write the output encrypted to a person's X25519 public key (hex); "
                        "ROLE reviewer or data owner; repeatable; needs -p")
    p.add_argument("--delimiter", help="input delimiter (default: sniffed)")
    p.add_argument("--encoding", help="input encoding (default: sniffed)")
    p.add_argument("--repair", choices=["skip", "replace"],
                   help="skip ragged rows / replace undecodable bytes, counted in the summary "
                        "(default: stop with the row number)")
    p.add_argument("--ray", metavar="ADDRESS", help="read, count, transform and check the file's shards on a Ray "
                   "cluster's workers, search the lattice here: HOST:PORT, ray://HOST:PORT or auto")
    d = cli.command("detokenise", "reverse the reversible tokens of an anonymised CSV (needs the keys)")
    d.add_argument("input", help="CSV written by `workbench anonymise` with tokenised columns")
    d.add_argument("-o", "--output", required=True)
    d.add_argument("--column", action="append", required=True, help="tokenised column (repeatable)")
    d.add_argument("--domain", action="append", default=[], metavar="COLUMN=DOMAIN",
                   help="the token domain of a column if not its own name")
    project_argument(d, create=False, about="its keyring holds the keys and the detokenisation is logged there",
                     without="the keys come from WORKBENCH_ANON_KEY_<ID>")
    d.set_defaults(func=_cmd_detokenise)
    e = cli.command("anonymise-decrypt", "decrypt an output written with --encrypt-key or --encrypt-to")
    e.add_argument("input")
    e.add_argument("-o", "--output", required=True)
    project_argument(e, create=False, about="its keyring holds the key and the decryption is logged there",
                     without="the key comes from WORKBENCH_ANON_KEY_<ID>")
    e.set_defaults(func=_cmd_decrypt)
    r = cli.command("anonymise-revoke", "take a person off an encrypted output: it is re-encrypted without them")
    r.add_argument("output", help="an output written with --encrypt-to")
    r.add_argument("name", help="the recipient whose grant is revoked")
    project_argument(r, create=False)
    r.set_defaults(func=_cmd_revoke)
    k = cli.command("anonymise-rotate-key", "replace a key in the keyring and re-key the outputs that use it")
    k.add_argument("name", help="key name (e.g. token, or the --encrypt-key name)")
    project_argument(k, create=False)
    k.set_defaults(func=_cmd_rotate)


def read_for_policy(path, delimiter=None, encoding=None, repair=None, need_all=True):
    """The table a policy is built from: all of it, or for a file that will be streamed (no
    quasi-identifiers) its first block, so that building the policy does not hold the file."""
    from .engine import STREAM_THRESHOLD_BYTES
    from .reader import Table, iter_csv_batches, read_table

    streamed = (str(path).lower().endswith((".csv", ".tsv", ".txt")) and os.path.isfile(path)
                and os.path.getsize(path) > STREAM_THRESHOLD_BYTES)
    if need_all or not streamed:
        return read_table(path, delimiter=delimiter, encoding=encoding, repair=repair)
    import pyarrow as pa

    first = next(iter(iter_csv_batches(path, delimiter=delimiter, encoding=encoding, block_size=1 << 20,
                                       use_threads=False)))
    return Table(str(path), pa.Table.from_batches([first]), delimiter, encoding)


def build_policy(args):
    """The CLI's flags into `engine.make_policy`, the function the tab uses too."""
    from .engine import load_policy, make_policy
    from .hierarchy import AUTO

    base = load_policy(args.policy) if args.policy else None
    qi = {}
    for item in args.qi:
        col, sep, path = item.partition("=")
        if not col or (sep and not path):
            raise CliError(f"--qi {item!r}: expected COLUMN, COLUMN=auto or COLUMN=HIERARCHY.csv")
        qi[col] = AUTO if not sep or path == AUTO else os.path.abspath(path)
    models_asked = bool(qi or (base and base.qi) or (args.k or 1) > 1 or args.l_diversity or args.t_closeness)
    # on Ray the workers read the file: the policy is built from its first block, as for a streamed file
    table = read_for_policy(args.input, args.delimiter, args.encoding, args.repair,
                            need_all=models_asked and not getattr(args, "ray", None))
    settings = {n: getattr(args, n) for n in ("suppression", "metric", "delimiter", "encoding", "repair")}
    try:
        return make_policy(table, base=base, qi=qi, sensitive=args.sensitive, k=args.k,
                           l_diversity=args.l_diversity, t_closeness=args.t_closeness,
                           keep_order=True if args.keep_order else None,
                           source=args.policy or "policy", **settings)
    except AnonymiseError as exc:
        raise CliError(str(exc)) from exc


def _cmd(plugin, args) -> int | tuple[int, dict]:
    try:
        policy = build_policy(args)
        from .engine import detected_sensitive

        unnamed = [c for c in detected_sensitive(policy) if c not in policy.sensitive]
        if unnamed:
            # reported, never added behind the user's back: a model applies to the columns named
            print(f"note: detected as sensitive, not protected by a privacy model unless named with "
                  f"--sensitive: {', '.join(unnamed)}", file=__import__("sys").stderr)
        if args.detect:
            print(json.dumps(policy.to_dict(), indent=2))
            return 0
        if not args.output:
            raise CliError("give -o OUTPUT (or --detect to print the detected policy)")
        recipients, roles = {}, {}
        for item in args.encrypt_to:
            name, sep, rest = item.partition("=")
            pub, _, role = rest.partition(":")
            if not sep or not name or not pub:
                raise CliError(f"--encrypt-to {item!r}: expected NAME=PUBKEY[:ROLE]")
            recipients[name], roles[name] = pub, role or "reviewer"
        if (recipients or args.encrypt_key) and not args.project:
            raise CliError("an encrypted output is recorded with its access list in a project: give -p PROJECT")
        if args.project:
            spec = plugin.job_spec("anonymise", target=os.path.abspath(args.input),
                                   output=os.path.abspath(args.output), policy=policy.to_dict(),
                                   encrypt_key=args.encrypt_key or "", recipients=recipients, roles=roles)
            with open_project(args.project, create=True, plugin_id=plugin.id) as project:
                _, _, summary = run_job(project, spec, unit="steps")
        else:
            from .engine import anonymise_file
            from .keys import load_keys

            ctx = NullContext()
            summary = anonymise_file(args.input, args.output, policy, load_keys(policy),
                                     progress=ctx.progress, check_cancelled=ctx.check_cancelled,
                                     workers=None if args.workers is None else max(1, args.workers))
    except AnonymiseError as exc:
        raise CliError(str(exc)) from exc
    print(_one_line(summary))
    return 0, summary


def _one_line(s: dict) -> str:
    parts = [f"{s.get('rows_out')} of {s.get('rows_in')} rows written to {s.get('output')}"]
    if s.get("levels"):
        parts.append("levels " + ", ".join(f"{k}={v}" for k, v in s["levels"].items()))
        parts.append(f"{s.get('suppressed_rows')} suppressed")
        parts.append(f"{s.get('metric')} {s.get('information_loss'):.4f}")
        parts.append(f"P(A|D) {s['risk_before']['p_reidentification']:.4f} -> {s['p_reidentification']:.4f}")
    parts.append("verified")
    return "; ".join(parts)


def detokenise_file(in_path, out_path, columns, keys: dict, domains: dict | None = None) -> int:
    """Stream a CSV, reversing tokens in `columns`; written atomically. Returns the rows written."""
    from .transforms import detokenise
    from .writer import rewrite_csv_columns, room_for

    domains = domains or {}
    with room_for(out_path):  # a full disk: an error naming the output, not a traceback
        return rewrite_csv_columns(in_path, out_path, columns,
                                   lambda n, col: detokenise(col, keys, domains.get(n, n)))


def _key_ids_in(path, columns) -> set:
    from .reader import iter_csv_batches

    ids = set()
    for batch in iter_csv_batches(path):
        for c in columns:
            if c in batch.schema.names:
                for v in batch.column(batch.schema.names.index(c)).to_pylist()[:1000]:
                    if v and v.startswith("tok:"):
                        ids.add(v.split(":", 2)[1])
        break
    return ids


def _cmd_detokenise(args) -> int:
    from .keys import KEY_ENV_PREFIX

    try:
        kids = sorted(_key_ids_in(args.input, args.column))
        domains = dict(d.split("=", 1) for d in args.domain)
        if args.project:
            from .keys import load_keys

            with _project_store(args.project) as store:
                keys = load_keys(None, store=store, names=kids, create=False)
                rows = detokenise_file(args.input, args.output, args.column, keys, domains)
                store.log_event("anonymise.detokenise", f"detokenised {', '.join(args.column)} of {args.input}",
                                {"input": os.path.abspath(args.input), "output": os.path.abspath(args.output),
                                 "columns": args.column, "key_ids": kids})
        else:
            keys = {}
            for kid in kids:
                value = os.environ.get(KEY_ENV_PREFIX + kid.upper())
                if value is None:
                    raise CliError(f"the tokens need key {kid!r}: set {KEY_ENV_PREFIX}{kid.upper()} (hex), "
                                   "or give -p PROJECT")
                keys[kid] = bytes.fromhex(value)
            rows = detokenise_file(args.input, args.output, args.column, keys, domains)
    except AnonymiseError as exc:
        raise CliError(str(exc)) from exc
    print(f"{rows} rows written to {args.output} with {', '.join(args.column)} detokenised")
    return 0


IDENTITY_ENV = "WORKBENCH_ANON_IDENTITY"


def _cmd_decrypt(args) -> int:
    """The key comes from WORKBENCH_ANON_KEY_<ID> or the identity from WORKBENCH_ANON_IDENTITY (hex)."""
    import json as _json

    from . import crypto
    from .keys import KEY_ENV_PREFIX

    try:
        with open(args.input, "rb") as fh:
            if fh.read(len(crypto.MAGIC)) != crypto.MAGIC:
                raise AnonymiseError(f"{args.input}: not a workbench encrypted file")
            header = _json.loads(fh.readline())
        if args.project:
            from .keys import load_keys

            with _project_store(args.project) as store:
                kid = header.get("key_id") or (header.get("custodian") or {}).get("key_id")
                if not kid:
                    raise CliError(f"{args.input} is for {', '.join(crypto.recipients_of(args.input))} only: "
                                   f"set {IDENTITY_ENV} and run without -p")
                keys = load_keys(None, store=store, names=[kid], create=False)
                if "key_id" in header:
                    crypto.decrypt_file(args.input, args.output, keys)
                else:
                    crypto.decrypt_as_custodian(args.input, args.output, keys)
                store.log_event("anonymise.decrypt", f"decrypted {args.input} with key {kid!r}",
                                {"input": os.path.abspath(args.input), "output": os.path.abspath(args.output),
                                 "key": kid})
        elif "key_id" in header:
            kid = header["key_id"]
            value = os.environ.get(KEY_ENV_PREFIX + kid.upper())
            if value is None:
                raise CliError(f"{args.input} needs key {kid!r}: set {KEY_ENV_PREFIX}{kid.upper()} (hex)")
            crypto.decrypt_file(args.input, args.output, {kid: bytes.fromhex(value)})
        else:
            value = os.environ.get(IDENTITY_ENV)
            if value is None:
                raise CliError(f"{args.input} is for {', '.join(crypto.recipients_of(args.input))}: "
                               f"set {IDENTITY_ENV} to your X25519 private key (hex)")
            crypto.decrypt_with_identity(args.input, args.output, bytes.fromhex(value))
    except (AnonymiseError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(f"decrypted to {args.output}")
    return 0


class _project_store:
    """The anonymise plugin's store of an existing project, for the commands that read its keyring."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        if not os.path.exists(self.path):
            raise CliError(f"{self.path}: no such project")
        self._cm = open_project(self.path, plugin_id="anonymise")
        project = self._cm.__enter__()
        return project.store("anonymise")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _cmd_revoke(args) -> int:
    from .access import revoke

    try:
        with _project_store(args.project) as store:
            remaining = revoke(store, args.output, args.name)
    except AnonymiseError as exc:
        raise CliError(str(exc)) from exc
    print(f"{args.name} removed from {args.output}; re-encrypted to "
          f"{', '.join(remaining) if remaining else 'the project custodian key only'}")
    return 0


def _cmd_rotate(args) -> int:
    from .access import rotate_key

    try:
        with _project_store(args.project) as store:
            s = rotate_key(store, args.name)
    except AnonymiseError as exc:
        raise CliError(str(exc)) from exc
    print(f"key {s['name']!r} rotated ({s['old_id']} -> {s['new_id']}); re-keyed {len(s['outputs'])} output(s)")
    for out in s["outputs"]:
        print(f"  {out}")
    return 0
