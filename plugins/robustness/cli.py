"""``workbench robustness`` and ``workbench harden``: the sweeps and the fine-tuning without the window."""

from __future__ import annotations

import argparse
import json
import os

from workbench.api import EXIT_OK, CliError, job_command, open_project, run_job

from .params import DEMO_TARGET


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
    src.add_argument("--model", metavar="FILE", help="safetensors, or a state dict (.pt/.pth); others need --trust-import")
    p.add_argument("--arch", metavar="NAME|FILE.py:Class",
                   help="architecture of the weights: a built-in (digits_cnn, tabular_mlp) or a class in a Python "
                        "file; that file is imported, which runs it: name only files you trust")
    p.add_argument("--arch-kwargs", metavar="JSON", help="arguments for the architecture, as a JSON object")
    p.add_argument("--data", metavar="FILE", help=".npz/.npy (x, y), an image folder (one subfolder per class) or CSV")
    p.add_argument("--target-column", metavar="NAME", help="CSV: the label column")
    p.add_argument("--trust-import", metavar="MODULE:NAME[,...]", action="append", default=[],
                   help="globals a pickle may import and call beyond torch's weights-only allow list, e.g. "
                        "torch.nn.modules.linear:Linear,mynet:TinyNet (the --arch file is importable under its own "
                        "module name); torch.jit:load allows TorchScript. Naming one trusts it to run with any "
                        "arguments the file gives it; nothing else is admitted")
    p.add_argument("--trust-model", action="store_true", help=argparse.SUPPRESS)  # refused: see _params
    p.add_argument("--attack", default="fgsm,pgd",
                   help="comma-separated: fgsm, pgd, pgd_l2, deepfool, apgd-ce, apgd-dlr, apgd-t, autoattack, cw, "
                        "square, square-l2, gaussian_noise, salt_pepper, blur, brightness, contrast, feature_noise "
                        "(default fgsm,pgd)")
    p.add_argument("--eps", default="0.01,0.03,0.1", help="comma-separated epsilons (severities for corruptions)")
    p.add_argument("--eps-linf", metavar="LIST", help="epsilons of the L-inf attacks (default: --eps)")
    p.add_argument("--eps-l2", metavar="LIST", help="epsilons of the L2 attacks (default: --eps)")
    p.add_argument("--norm", choices=("linf", "l2"), default="linf",
                   help="threat model of apgd-ce, apgd-dlr, apgd-t and autoattack (default linf)")
    p.add_argument("--ensemble", choices=("standard", "quick"), default="standard",
                   help="autoattack: standard (APGD-CE, APGD-T, FAB-T, Square) or quick (APGD-CE, APGD-T on 3 "
                        "targets)")
    p.add_argument("--apgd-iter", type=int, default=100, help="APGD iterations (default 100, AutoAttack's)")
    p.add_argument("--set-protocol", action="store_true",
                   help="make this run's threat model, epsilons and attacks the project's protocol for R")
    p.add_argument("--steps", type=int, default=10, help="PGD steps (default 10)")
    p.add_argument("--step-size", type=float, help="PGD step size (default 2.5 * eps / steps)")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--no-random-start", dest="random_start", action="store_false",
                   help="PGD starts at the clean input instead of a random point in the ball")
    p.add_argument("--targeted", action="store_true", help="targeted attacks towards the next class")
    p.add_argument("--queries", "--square-queries", dest="square_queries", type=int, default=5000,
                   help="Square: queries per sample (default 5000, the paper's)")
    p.add_argument("--p-init", type=float, default=0.8, help="Square: initial share of pixels per square (0.8)")
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
    p = job_command(cli, "robustness", "attack a model over a list of epsilons; robust accuracy per attack",
                    lambda args: cmd_robustness(plugin, args))
    _model_data_args(p)
    p.add_argument("--ray", metavar="ADDRESS", help="run the attacks on a Ray cluster: HOST:PORT, ray://HOST:PORT or auto")

    p = job_command(cli, "harden", "adversarially fine-tune a model, export it as safetensors, compare before/after",
                    lambda args: cmd_harden(plugin, args))
    _model_data_args(p)
    p.add_argument("--method", choices=("pgd", "fgsm", "noise"), default="pgd",
                   help="pgd: PGD adversarial training; fgsm: fast FGSM with random start; noise: Gaussian noise")
    p.add_argument("--harden-eps", type=float, default=0.1, help="epsilon used while training (default 0.1)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-steps", type=int, default=7, help="PGD steps while training")
    p.add_argument("--mix", type=float, default=0.5, help="share of the loss on perturbed inputs (default 0.5)")
    p.add_argument("-o", "--output", metavar="FILE.safetensors", help="where to write the hardened weights")


def _params(args) -> dict:
    if args.model and not args.data:
        raise CliError("--model needs --data FILE")
    if args.trust_model:
        raise CliError("--trust-model was replaced by --trust-import MODULE:NAME[,...]: name exactly what the "
                       "model file may import (the refusal message of a file lists it); see the robustness README")
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
        "trust_import": [t for v in args.trust_import for t in v.split(",") if t.strip()],
        "input_range": rng, "mean": _floats(args.mean, "mean"),
        "std": _floats(args.std, "std"), "immutable": immutable,
        "lower": _floats([args.lower], "lower") if args.lower else None,
        "upper": _floats([args.upper], "upper") if args.upper else None, "device": args.device, "amp": args.amp,
        "threads": args.threads, "batch_size": args.batch_size, "seed": args.seed, "limit": args.limit,
        "demo_epochs": args.demo_epochs,
        # epsilons stay as written: the summary's keys are the user's own spelling
        "attacks": [a.strip() for a in args.attack.split(",") if a.strip()],
        "eps": [e.strip() for e in args.eps.split(",") if e.strip()],
        "steps": args.steps, "step_size": args.step_size, "restarts": args.restarts, "targeted": args.targeted,
        "square_queries": args.square_queries, "p_init": args.p_init, "random_start": args.random_start,
        "norm": args.norm, "ensemble": args.ensemble, "apgd_iter": args.apgd_iter, "set_protocol": args.set_protocol,
        "eps_by_norm": {k: [e.strip() for e in v.split(",") if e.strip()]
                        for k, v in (("linf", args.eps_linf), ("l2", args.eps_l2)) if v} or None,
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
    for norm, curve in (summary.get("worst_case_by_norm") or {}).items():
        cells = "  ".join(f"eps {k}: {v:.4f}" for k, v in curve.items())
        print(f"  {'worst case ' + norm:15s} {cells}")
    proto = summary.get("protocol") or {}
    if summary.get("score") is not None:
        print(f"robustness score R = {summary['score']:.1f} / 100 under the protocol: {proto.get('text', '')}")
    elif proto:
        print(f"no R: this run is not comparable with the project's protocol ({proto.get('why_not')}): "
              f"{proto.get('text', '')}")


def cmd_robustness(plugin, args) -> tuple[int, dict]:
    from .distributed import on_cluster

    spec = plugin.job_spec("robustness", **_params(args))
    with open_project(args.project, create=True, plugin_id=plugin.id) as project, on_cluster(args.ray):
        _, _, summary = run_job(project, spec, unit="points")
    _print_table(summary)
    return EXIT_OK, summary


def cmd_harden(plugin, args) -> tuple[int, dict]:
    params = _params(args)
    params.update(method=args.method, harden_eps=args.harden_eps, epochs=args.epochs, lr=args.lr,
                  train_steps=args.train_steps, mix=args.mix,
                  output=os.path.abspath(args.output) if args.output else None)
    spec = plugin.job_spec("harden", **params)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="steps")
    print("before:")
    _print_table(summary["before"])
    print("after hardening:")
    _print_table(summary)
    print(f"hardened weights: {summary['output']}")
    return EXIT_OK, summary
