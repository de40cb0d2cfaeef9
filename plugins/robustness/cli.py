"""``workbench robustness`` and ``workbench harden``: the sweeps and the fine-tuning without the window."""

from __future__ import annotations

import json
import os

from workbench.api import EXIT_OK, CliError, open_project, run_job

from . import DEMO_TARGET


def _floats(values, name: str) -> list[float]:
    """``--mean 0.5 0.5`` or ``--mean 0.5,0.5`` alike."""
    out = []
    for v in values or []:
        for part in str(v).split(","):
            if part.strip():
                try:
                    out.append(float(part))
                except ValueError:
                    raise CliError(f"--{name}: {part!r} is not a number") from None
    return out


def _model_data_args(p) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="the built-in digits CNN and scikit-learn's digits")
    src.add_argument("--model", metavar="FILE", help="safetensors, or a state dict (.pt/.pth); others need --trust-model")
    p.add_argument("-p", "--project", required=True, help="project file (.wbproj); created if missing")
    p.add_argument("--arch", metavar="NAME|FILE.py:Class",
                   help="architecture of the weights: a built-in (digits_cnn, tabular_mlp) or a class in a Python "
                        "file; that file is imported, which runs it: name only files you trust")
    p.add_argument("--arch-kwargs", metavar="JSON", help="arguments for the architecture, as a JSON object")
    p.add_argument("--data", metavar="FILE", help=".npz/.npy (x, y), an image folder (one subfolder per class) or CSV")
    p.add_argument("--target-column", metavar="NAME", help="CSV: the label column")
    p.add_argument("--trust-model", action="store_true",
                   help="allow TorchScript and full pickles (they can run code); the pickle scan still runs first")
    p.add_argument("--attack", default="fgsm,pgd",
                   help="comma-separated: fgsm, pgd, pgd_l2, deepfool, square, gaussian_noise, salt_pepper, blur, "
                        "brightness, contrast, feature_noise (default fgsm,pgd)")
    p.add_argument("--eps", default="0.01,0.03,0.1", help="comma-separated epsilons (severities for corruptions)")
    p.add_argument("--steps", type=int, default=10, help="PGD steps (default 10)")
    p.add_argument("--step-size", type=float, help="PGD step size (default 2.5 * eps / steps)")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--targeted", action="store_true", help="targeted attacks towards the next class")
    p.add_argument("--square-queries", type=int, default=300)
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: cuda, then mps, then cpu)")
    p.add_argument("--amp", choices=("bf16", "fp16"), help="autocast on a GPU")
    p.add_argument("--threads", type=int, help="CPU threads (pinned)")
    p.add_argument("--batch-size", type=int, default=256, help="halved automatically on out-of-memory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demo-epochs", type=int, default=15, help="--demo: training epochs of the digits CNN")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples")
    p.add_argument("--input-range", default="0,1", metavar="LOW,HIGH", help="the range of the inputs (default 0,1)")
    p.add_argument("--mean", nargs="+", help="normalisation mean per channel or feature, applied inside the model")
    p.add_argument("--std", nargs="+", help="normalisation std per channel or feature")
    p.add_argument("--immutable", help="tabular: comma-separated feature indices never perturbed")
    p.add_argument("--lower", help="tabular: comma-separated lower bound per feature (with --upper)")
    p.add_argument("--upper", help="tabular: comma-separated upper bound per feature (with --lower)")


def add_cli(plugin, cli) -> None:
    p = cli.command("robustness", "attack a model over a list of epsilons; robust accuracy per attack",
                    runs_job=True)
    _model_data_args(p)
    p.set_defaults(func=lambda args: cmd_robustness(plugin, args))

    p = cli.command("harden", "adversarially fine-tune a model, export it as safetensors, compare before/after",
                    runs_job=True)
    _model_data_args(p)
    p.add_argument("--method", choices=("pgd", "fgsm", "noise"), default="pgd",
                   help="pgd: PGD adversarial training; fgsm: fast FGSM with random start; noise: Gaussian noise")
    p.add_argument("--harden-eps", type=float, default=0.1, help="epsilon used while training (default 0.1)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-steps", type=int, default=7, help="PGD steps while training")
    p.add_argument("--mix", type=float, default=0.5, help="share of the loss on perturbed inputs (default 0.5)")
    p.add_argument("-o", "--output", metavar="FILE.safetensors", help="where to write the hardened weights")
    p.set_defaults(func=lambda args: cmd_harden(plugin, args))


def _params(args) -> dict:
    if args.model and not args.data:
        raise CliError("--model needs --data FILE")
    if args.demo and args.data:
        raise CliError("--demo brings its own data; leave --data out")
    rng = _floats([args.input_range], "input-range")
    if len(rng) != 2:
        raise CliError(f"--input-range: expected LOW,HIGH, got {args.input_range!r}")
    kwargs = None
    if args.arch_kwargs:
        try:
            kwargs = json.loads(args.arch_kwargs)
        except json.JSONDecodeError as exc:
            raise CliError(f"--arch-kwargs: not JSON: {exc}") from None
        if not isinstance(kwargs, dict):
            raise CliError("--arch-kwargs: expected a JSON object")
    immutable = [int(v) for v in _floats([args.immutable], "immutable")] if args.immutable else []
    params = {
        "target": DEMO_TARGET if args.demo else os.path.abspath(args.model),
        "data": os.path.abspath(args.data) if args.data else None,
        "arch": args.arch, "arch_kwargs": kwargs, "target_column": args.target_column,
        "trust_model": args.trust_model, "input_range": rng, "mean": _floats(args.mean, "mean"),
        "std": _floats(args.std, "std"), "immutable": immutable,
        "lower": _floats([args.lower], "lower") if args.lower else None,
        "upper": _floats([args.upper], "upper") if args.upper else None, "device": args.device, "amp": args.amp,
        "threads": args.threads, "batch_size": args.batch_size, "seed": args.seed, "limit": args.limit,
        "demo_epochs": args.demo_epochs,
        # epsilons stay as written: the summary's keys are the user's own spelling
        "attacks": [a.strip() for a in args.attack.split(",") if a.strip()],
        "eps": [e.strip() for e in args.eps.split(",") if e.strip()],
        "steps": args.steps, "step_size": args.step_size, "restarts": args.restarts, "targeted": args.targeted,
        "square_queries": args.square_queries,
    }
    if args.arch and ":" in args.arch:
        path, _, cls = args.arch.rpartition(":")
        params["arch"] = f"{os.path.abspath(path)}:{cls}"
    return params


def _print_table(summary: dict) -> None:
    print(f"clean accuracy {summary['clean_accuracy']:.4f} on {summary['samples']} samples")
    for attack, curve in summary["robust_accuracy"].items():
        cells = "  ".join(f"eps {k}: {v:.4f}" for k, v in curve.items())
        print(f"  {attack:15s} {cells}")
    if summary.get("score") is not None:
        print(f"robustness score R = {summary['score']:.1f} / 100")


def cmd_robustness(plugin, args) -> int:
    spec = plugin.job_spec("robustness", **_params(args))
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="points", summary_json=args.summary_json)
    _print_table(summary)
    return EXIT_OK


def cmd_harden(plugin, args) -> int:
    params = _params(args)
    params.update(method=args.method, harden_eps=args.harden_eps, epochs=args.epochs, lr=args.lr,
                  train_steps=args.train_steps, mix=args.mix,
                  output=os.path.abspath(args.output) if args.output else None)
    spec = plugin.job_spec("harden", **params)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="steps", summary_json=args.summary_json)
    print("before:")
    _print_table(summary["before"])
    print("after hardening:")
    _print_table(summary)
    print(f"hardened weights: {summary['output']}")
    return EXIT_OK
