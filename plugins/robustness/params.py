"""The robustness jobs' parameters: what to attack (model and data), the sweep, the hardening."""

from __future__ import annotations

from dataclasses import dataclass, field

DEMO_TARGET = "demo"


@dataclass
class ModelDataParams:
    """What to attack: a model file (or ``demo``) and its data, with the preprocessing made explicit."""

    target: str = DEMO_TARGET               # the model file, or "demo" for the built-in digits CNN
    data: str | None = None                 # .npz/.npy, image folder, or CSV (not for the demo)
    arch: str | None = field(default=None, metadata={"label": "Architecture:"})  # built-in name or FILE.py:Class
    arch_kwargs: dict | None = None
    target_column: str | None = field(default=None, metadata={"label": "CSV label column:"})  # CSV only
    # MODULE:NAME a pickle may use (see models.py)
    trust_import: list[str] = field(default_factory=list, metadata={"label": "Trust imports:"})
    trust_model: bool = False               # replaced by trust_import; True is refused with a message
    input_range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    immutable: list[int] = field(default_factory=list)      # tabular features never perturbed
    lower: list[float] | None = None                        # tabular per-feature bounds (override input_range)
    upper: list[float] | None = None
    device: str | None = None
    amp: str | None = field(default=None, metadata={"label": "Autocast:"})
    threads: int | None = None
    batch_size: int = 256
    seed: int = 0
    limit: int | None = None                # evaluate the first N samples only
    demo_epochs: int = 15

    def __post_init__(self) -> None:
        if self.target != DEMO_TARGET and not self.data:
            raise ValueError("a model file needs its data (--data FILE)")
        if len(self.input_range) != 2 or not self.input_range[0] < self.input_range[1]:
            raise ValueError(f"input_range must be two increasing numbers, got {self.input_range}")
        if (self.lower is None) != (self.upper is None):
            raise ValueError("per-feature bounds need both lower and upper")
        if self.lower is not None and (len(self.lower) != len(self.upper)
                                       or any(lo >= hi for lo, hi in zip(self.lower, self.upper))):
            raise ValueError("lower and upper must have the same length and lower < upper for every feature")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp must be bf16 or fp16, got {self.amp!r}")
        if self.trust_model:
            raise ValueError("trust_model was replaced by trust_import: name what the file may import, "
                             "as MODULE:NAME (--trust-import MODULE:NAME[,...])")
        if self.device is not None and self.device.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {self.device!r}")


def _parse_eps(values: list[str]) -> None:
    if not values:
        raise ValueError("give at least one epsilon")
    for v in values:
        try:
            e = float(v)
        except ValueError:
            raise ValueError(f"epsilon {v!r} is not a number") from None
        if e < 0 or e != e:
            raise ValueError(f"epsilon {v!r} must be zero or more")


@dataclass
class SweepParams(ModelDataParams):
    attacks: list[str] = field(default_factory=lambda: ["fgsm", "pgd"])
    eps: list[str] = field(default_factory=lambda: ["0.01", "0.03", "0.1"],  # kept as written
                           metadata={"label": "ε (as written):"})
    steps: int = 10
    step_size: float | None = None          # PGD step; default 2.5 * eps / steps
    restarts: int = 1
    targeted: bool = False
    square_queries: int = 5000              # the paper's and AutoAttack's budget
    label: str = "original"                 # the model version the curves belong to
    random_start: bool = True               # PGD's random start in the ball
    p_init: float = 0.8                     # Square: initial share of pixels per square
    norm: str = "linf"                      # threat model of apgd-ce, apgd-dlr, apgd-t, autoattack
    ensemble: str = "standard"              # autoattack: standard (APGD-CE, APGD-T, FAB-T, Square) or quick
    apgd_iter: int = 100
    eps_by_norm: dict | None = None         # {"linf": [...], "l2": [...]}: an eps list per threat model
    set_protocol: bool = False              # make this run's protocol the project's

    def __post_init__(self) -> None:
        super().__post_init__()
        _parse_eps(self.eps)
        if self.steps < 1 or self.restarts < 1:
            raise ValueError("steps and restarts must be at least 1")
        if self.square_queries < 1 or self.apgd_iter < 1:
            raise ValueError("square_queries and apgd_iter must be at least 1")
        if not 0 < self.p_init <= 1:
            raise ValueError(f"p_init must be in (0, 1], got {self.p_init}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be linf or l2, got {self.norm!r}")
        if self.ensemble not in ("standard", "quick"):
            raise ValueError(f"ensemble must be standard or quick, got {self.ensemble!r}")
        for key, values in (self.eps_by_norm or {}).items():
            if key not in ("linf", "l2"):
                raise ValueError(f"eps lists are per threat model linf or l2, got {key!r}")
            _parse_eps(list(values))
        from .attacks import ATTACKS
        from .corruptions import CORRUPTIONS

        unknown = [a for a in self.attacks if a not in ATTACKS + CORRUPTIONS]
        if unknown or not self.attacks:
            raise ValueError(f"unknown attack or corruption {unknown[0] if unknown else '(none)'!r}; "
                             f"choose from {', '.join(ATTACKS + CORRUPTIONS)}")


@dataclass
class HardenParams(SweepParams):
    method: str = "pgd"                     # pgd | fgsm | noise
    harden_eps: float = 0.1
    epochs: int = 5
    lr: float = 1e-3
    train_steps: int = 7
    mix: float = 0.5
    output: str | None = None               # where the hardened safetensors go

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in ("pgd", "fgsm", "noise"):
            raise ValueError(f"method must be pgd, fgsm or noise, got {self.method!r}")
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError("mix must be between 0 and 1")
