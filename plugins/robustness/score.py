"""The robustness pillar score R(x), on 0-100, under the project's protocol.

A **protocol** fixes what a robustness number means, as RobustBench and
AutoAttack do: a threat model (L∞ or L2), a list of epsilons, and an attack
ensemble with its budgets (iterations, queries, restarts...). A project has one
protocol; the first robustness run sets it (``--set-protocol`` replaces it).

For one model x evaluated by a run that covers the protocol (every protocol
attack, with the protocol's budget, at every protocol epsilon):

    wc(ε) = share of the N samples classified correctly clean AND after every
            attack of the run in the protocol's threat model at ε

the robust accuracy under the worst case per sample over the attacks (an
attack the protocol does not name counts too: it can only lower wc), and

    R(x) = 100 · mean over the protocol's ε of wc(ε)

The epsilon grid is the protocol's, so R cannot be raised by picking smaller
epsilons; adding an attack to a run can only keep or lower R (each attack's draws are seeded on their own);
a weaker attack cannot dilute a stronger one; corruptions and noise never
enter R (they are reported as a separate figure, robustness to natural
shifts); a run under another threat model, grid or budget is shown as "not
comparable" and left out. The pillar score of a project is the lowest R over
the latest run of every model (a model whose latest run is not comparable is
left out and the report says why): a project is as robust as its weakest model.
A ``harden`` run counts with the model as given ("original").
A project with no comparable run is "not assessed" (None), never a number.
"""

from __future__ import annotations

import weakref

from . import store as S

#: the run settings each attack's strength depends on (part of the protocol's budget)
BUDGET_KEYS = {
    "fgsm": (),
    "pgd": ("steps", "step_size", "restarts", "random_start"),
    "pgd_l2": ("steps", "step_size", "restarts", "random_start"),
    "deepfool": (),
    "cw": (),
    "apgd-ce": ("apgd_iter",),
    "apgd-dlr": ("apgd_iter",),
    "apgd-t": ("apgd_iter", "ensemble"),
    "autoattack": ("apgd_iter", "ensemble", "square_queries", "p_init"),
    "square": ("square_queries", "p_init"),
    "square-l2": ("square_queries", "p_init"),
}
NORM_NAMES = {"linf": "L∞", "l2": "L2"}
#: the threat model of each attack (None: the run's ``norm``), as ``attacks.NORM_OF`` has it: kept here so
#: that scoring (every Overview refresh) does not import the attacks module; a test checks the two agree
NORM_OF = {"fgsm": "linf", "pgd": "linf", "pgd_l2": "l2", "deepfool": "l2", "square": "linf", "square-l2": "l2",
           "cw": "l2", "apgd-ce": None, "apgd-dlr": None, "apgd-t": None, "autoattack": None}


def attack_norm(name: str, params: dict) -> str | None:
    """The threat model of an attack in a run; None for a corruption."""
    if name not in NORM_OF:
        return None
    return NORM_OF[name] or params.get("norm") or "linf"


def eps_of(params: dict, norm: str) -> list[str]:
    """The run's epsilons (as written) for one threat model."""
    own = (params.get("eps_by_norm") or {}).get(norm)
    return [str(e) for e in (own or params.get("eps") or [])]


def run_protocol(params: dict, norm: str | None = None) -> dict | None:
    """The protocol a run's parameters define for ``norm`` (default: its first attack's threat model)."""
    attacks = [a for a in params.get("attacks", []) if attack_norm(a, params)]
    if norm is None:
        if not attacks:
            return None
        norm = attack_norm(attacks[0], params)
    mine = sorted(a for a in attacks if attack_norm(a, params) == norm)
    if not mine:
        return None
    budget = {a: {k: params.get(k) for k in BUDGET_KEYS.get(a, ())} for a in mine}
    eps = sorted({float(e) for e in eps_of(params, norm)})
    return {"norm": norm, "eps": eps, "attacks": mine, "budget": budget,
            "targeted": bool(params.get("targeted"))}


def comparable(protocol: dict, params: dict) -> tuple[bool, str]:
    """Whether a run (its params) covers ``protocol``; the reason when not."""
    norm = protocol["norm"]
    have = {float(e) for e in eps_of(params, norm)}
    attacks = set(params.get("attacks", []))
    missing_attacks = [a for a in protocol["attacks"] if a not in attacks or attack_norm(a, params) != norm]
    if missing_attacks:
        return False, f"does not run {', '.join(missing_attacks)} ({NORM_NAMES.get(norm, norm)})"
    missing_eps = [e for e in protocol["eps"] if e not in have]
    if missing_eps:
        return False, f"does not evaluate ε = {', '.join(f'{e:g}' for e in missing_eps)}"
    if bool(params.get("targeted")) != bool(protocol.get("targeted")):
        return False, "targeted and untargeted runs differ"
    for a in protocol["attacks"]:
        for k, v in (protocol.get("budget") or {}).get(a, {}).items():
            if params.get(k) != v:
                return False, f"{a}: {k} = {params.get(k)!r}, the protocol's is {v!r}"
    return True, ""


def describe(protocol: dict | None) -> str:
    """One line for the report's cover, beside R."""
    if not protocol:
        return "none yet (the next robustness run sets it; runs made before protocols existed are not scored)"
    eps = ", ".join(f"{e:g}" for e in protocol["eps"])
    parts = []
    for a in protocol["attacks"]:
        b = (protocol.get("budget") or {}).get(a) or {}
        if a == "autoattack":
            parts.append(f"AutoAttack {b.get('ensemble')} (APGD-CE, APGD-T"
                         + (f", FAB-T, Square {b.get('square_queries')} queries, p_init {b.get('p_init')}"
                            if b.get("ensemble") == "standard" else "")
                         + f"; {b.get('apgd_iter')} iterations)")
        elif b:
            parts.append(f"{a} (" + ", ".join(f"{k} {v}" for k, v in b.items() if v is not None) + ")")
        else:
            parts.append(a)
    return (f"{NORM_NAMES.get(protocol['norm'], protocol['norm'])}, ε ∈ {{{eps}}}, worst case per sample over "
            + ", ".join(parts) + ("; targeted" if protocol.get("targeted") else ""))


def worst_case(n: int, rows) -> dict[float, float]:
    """{eps: wc(eps)} from ``rows`` of (eps, idx, ok) over every attack point of one threat model, where ok
    says the sample was right clean and after that attack; a sample absent from a point counts as wrong."""
    ok_by: dict[float, dict[int, bool]] = {}
    for eps, idx, ok in rows:
        per = ok_by.setdefault(float(eps), {})
        per[int(idx)] = per.get(int(idx), True) and bool(ok)
    return {e: sum(per.values()) / max(1, n) for e, per in ok_by.items()}


def r_of(protocol: dict, wc: dict[float, float]) -> float | None:
    """R on 0-100: the mean worst-case robust accuracy over the protocol's epsilons; None when one is missing."""
    values = []
    for e in protocol["eps"]:
        match = [v for k, v in wc.items() if abs(k - e) <= 1e-12 * max(1.0, abs(e))]
        if not match:
            return None
        values.append(match[0])
    return 100.0 * sum(values) / len(values) if values else None


def _version(run: dict) -> str:
    return (run.get("summary") or {}).get("model_version", "original") if run["job"] == "robustness" \
        else "original"


def run_score(store, run: dict, version: str, protocol: dict | None) -> tuple[float | None, str]:
    """(R of one run's model version under ``protocol``, why it is not comparable: "" when it is)."""
    if protocol is None:
        return None, "no protocol"
    ok, why = comparable(protocol, run.get("params") or {})
    if not ok:
        return None, why
    value = r_of(protocol, _worst_case(store, run["id"], version, protocol["norm"]))
    return value, "" if value is not None else "a protocol epsilon did not finish"


#: project -> (its file's change stamp, {(run id, version, norm): wc}); see _worst_case
_WC_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _worst_case(store, run_id: int, version: str, norm: str) -> dict[float, float]:
    """S.worst_case, read once while the project file is unchanged.

    An Overview refresh scores the same run for the pillar's card, its trend and its target's
    row (the per-sample query is most of a robustness score's time). The stamp is SQLite's own:
    ``total_changes()`` counts this connection's writes and ``data_version`` changes when any
    other connection (a job's worker, a command) commits, so any write starts afresh."""
    try:
        cache = _WC_CACHE.setdefault(store.project, (None, {}))
    except (AttributeError, TypeError):  # a store without a weak-referenceable project: no cache
        return S.worst_case(store, run_id, version, norm)
    stamp = (id(getattr(store.project, "conn", None)),  # the counters below are per connection
             store.query_one("PRAGMA data_version")["data_version"],
             store.query_one("SELECT total_changes() AS n")["n"])
    if cache[0] != stamp:
        cache = _WC_CACHE[store.project] = (stamp, {})
    key = (run_id, version, norm)
    if key not in cache[1]:
        cache[1][key] = S.worst_case(store, run_id, version, norm)
    return dict(cache[1][key])


def score(store) -> float | None:
    """The lowest R over the latest comparable run of every model, under the project's protocol; None when none.

    A ``robustness`` run counts with the model it evaluated; a ``harden`` run with
    the model as it was given (``original``): the hardened copy is a proposal
    until it is evaluated as a model of its own. Runs under another protocol
    are never compared.
    """
    protocol = S.protocol(store)
    scores = []
    for run in store.latest_runs_of(("robustness", "harden")):
        value, _ = run_score(store, run, _version(run), protocol)
        if value is not None:
            scores.append(value)
    return round(min(scores), 1) if scores else None


def score_detail(store) -> str:
    """What R means here, for the report's cover beside the score: the protocol."""
    return "Protocol: " + describe(S.protocol(store))
