"""Optimal generalisation: lattice search under k-anonymity, l-diversity and t-closeness.

Data are integer codes (numpy); a lattice node is one generalisation level per
quasi-identifier. For a node, each row's generalised codes are combined into one
int64 key and the equivalence classes are the distinct keys (bincount when the key
space is small, a sort otherwise).

Search, in the spirit of ARX's Flash (Kohlmayer et al. 2012) and its bound-based
pruning for non-monotonic metrics:

* the privacy models used here are monotonic under generalisation with suppression
  (k-anonymity, distinct/entropy/recursive l-diversity): a node that fails proves
  every node below it fails, so they are never grouped;
* ARX's Loss and the non-uniform entropy have a lower bound per node that needs no
  grouping (the loss of generalisation alone, attribute by attribute); nodes are
  visited in ascending bound order and the search stops once the bound reaches the
  best value found, which makes the result the global optimum;
* discernibility and AECS have grouping-based bounds that only grow upwards: a node
  whose bound already reaches the best prunes all its generalisations.

With t-closeness (not monotonic once suppression is allowed) the privacy pruning is
switched off and only bound pruning applies. The result equals an exhaustive scan;
a test compares both on a small lattice.

Metrics (lower is better), as ARX defines them:

* ``loss``: per attribute, the mean over records of the share of the domain (rows of
  the hierarchy) covered by the record's generalised value, a suppressed record
  counting 1; normalised per attribute as (x - N/|domain|) / (N - N/|domain|); the
  attributes are combined by ARX's geometric mean, prod(x_i + 1)^(1/d) - 1.
* ``discernibility``: sum of |class|^2 over kept classes plus N per suppressed record.
* ``aecs``: N / (number of kept classes, plus one if any record is suppressed).
* ``entropy`` (non-uniform entropy): sum over attributes and records of
  -log2(freq(original value) / freq(generalised value)), a suppressed record being
  generalised to the root.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .errors import AnonymiseError

METRICS = ("loss", "discernibility", "aecs", "entropy")
MAX_LATTICE_NODES = 5_000_000


# -- privacy models ----------------------------------------------------------------------


@dataclass(frozen=True)
class LDiversity:
    attribute: str
    variant: str  # distinct | entropy | recursive
    l: float
    c: float = 0.0

    def __str__(self):
        if self.variant == "recursive":
            return f"recursive-({self.c:g},{self.l:g})-diversity of {self.attribute}"
        return f"{self.variant}-{self.l:g}-diversity of {self.attribute}"


@dataclass(frozen=True)
class TCloseness:
    attribute: str
    variant: str  # equal | hierarchical
    t: float

    def __str__(self):
        return f"{self.t:g}-closeness ({self.variant} distance) of {self.attribute}"


@dataclass
class PrivacyModels:
    k: int = 1
    l_diversity: list = field(default_factory=list)
    t_closeness: list = field(default_factory=list)

    @property
    def monotonic(self) -> bool:
        return not self.t_closeness

    def describe(self) -> list[str]:
        out = [f"{self.k}-anonymity"] if self.k > 1 else []
        return out + [str(m) for m in self.l_diversity] + [str(m) for m in self.t_closeness]


def parse_l_diversity(attribute: str, spec: str) -> LDiversity:
    """'distinct:L', 'entropy:L' or 'recursive:C:L'."""
    parts = spec.split(":")
    try:
        if parts[0] in ("distinct", "entropy") and len(parts) == 2:
            return LDiversity(attribute, parts[0], float(parts[1]))
        if parts[0] == "recursive" and len(parts) == 3:
            return LDiversity(attribute, "recursive", float(parts[2]), float(parts[1]))
    except ValueError:
        pass
    raise AnonymiseError(f"l-diversity {spec!r}: expected distinct:L, entropy:L or recursive:C:L")


def parse_t_closeness(attribute: str, spec: str) -> TCloseness:
    """'equal:T' or 'hierarchical:T'."""
    parts = spec.split(":")
    if len(parts) == 2 and parts[0] in ("equal", "hierarchical"):
        try:
            return TCloseness(attribute, parts[0], float(parts[1]))
        except ValueError:
            pass
    raise AnonymiseError(f"t-closeness {spec!r}: expected equal:T or hierarchical:T")


# -- encoded data -------------------------------------------------------------------------


@dataclass
class QuasiIdentifier:
    name: str
    codes: object  # (n,) int32 codes into the data dictionary
    maps: list  # per level: data code -> generalised code
    labels: list  # per level: generalised code -> label
    shares: list  # per level: generalised code -> share of the hierarchy's domain
    freqs: list  # per level: generalised code -> number of records (for entropy)
    domain_size: int

    @property
    def height(self) -> int:
        return len(self.maps)


@dataclass
class Sensitive:
    name: str
    codes: object
    labels: list
    hierarchy: object = None  # Hierarchy, for hierarchical EMD


@dataclass
class Encoded:
    n: int
    qis: list
    sensitive: dict


def encode(table, hierarchies: dict, sensitive=()) -> Encoded:
    """Integer-code the quasi-identifiers (with their hierarchies) and sensitive columns."""
    import numpy as np

    qis = []
    for name, h in hierarchies.items():
        if name not in table.columns:
            raise AnonymiseError(f"{table.path}: no column {name!r} (columns: {table.columns})")
        codes, dictionary = table.codes(name)
        h.check_covers(dictionary, name, table.path)
        maps, labels, shares_by_code = h.encode(dictionary)
        gen_shares, freqs = [], []
        counts = np.bincount(codes, minlength=len(dictionary))
        for lv in range(h.height):
            g = np.zeros(len(labels[lv]))
            g[maps[lv]] = shares_by_code[lv]
            gen_shares.append(g)
            freqs.append(np.bincount(maps[lv], weights=counts, minlength=len(labels[lv])))
        qis.append(QuasiIdentifier(name, codes, maps, labels, gen_shares, freqs, h.domain_size))
    sens = {}
    for name in sensitive:
        if isinstance(name, tuple):
            name, h = name
        else:
            h = None
        if name not in table.columns:
            raise AnonymiseError(f"{table.path}: no sensitive column {name!r}")
        codes, dictionary = table.codes(name)
        if h is not None:
            h.check_covers(dictionary, name, table.path)
        sens[name] = Sensitive(name, codes, dictionary, h)
    return Encoded(table.num_rows, qis, sens)


# -- grouping and evaluation --------------------------------------------------------------


@dataclass
class Classes:
    """Equivalence classes of one node: per class its size and generalised codes."""

    sizes: object  # (C,) int64
    gen_codes: list  # per QI: (C,) generalised code of each class
    row_class: object = None  # (n,) class index per row, when requested


def _combine(gens, cards, n, weights=None, with_rows=False) -> Classes:
    """Equivalence classes of rows given their generalised codes per QI."""
    import numpy as np

    key = np.zeros(n, dtype=np.int64)
    space = 1
    decodable = True
    for g, card in zip(gens, cards):
        if space * card >= 2**62:  # re-compact before the key would overflow
            key = np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()
            space = int(key.max()) + 1
            decodable = False
        key = key * card + g
        space *= card
    row_class = None
    if not decodable:
        # Codes of each class from its first row, since the key can no longer be split.
        uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.ravel()
        sizes = np.bincount(inv, weights=weights, minlength=len(uniq))
        return Classes(sizes.astype(np.int64), [np.asarray(g)[first] for g in gens],
                       inv if with_rows else None)
    if space <= 4 * n + 1024 and not with_rows:
        counts = np.bincount(key, weights=weights, minlength=space)
        uniq = np.flatnonzero(counts)
        sizes = counts[uniq]
    elif weights is None:
        if with_rows:
            uniq, row_class, sizes = np.unique(key, return_inverse=True, return_counts=True)
            row_class = row_class.ravel()
        else:
            uniq, sizes = np.unique(key, return_counts=True)
    else:
        uniq, inv = np.unique(key, return_inverse=True)
        sizes = np.bincount(inv.ravel(), weights=weights, minlength=len(uniq))
    gen_codes = []
    rest = uniq.astype(np.int64)
    for card in reversed(cards):
        gen_codes.append(rest % card)
        rest = rest // card
    gen_codes.reverse()
    return Classes(sizes.astype(np.int64), gen_codes, row_class)


def group(enc: Encoded, node, with_rows: bool = False) -> Classes:
    """Classes of a node; from the distinct base tuples (weighted) unless rows are needed."""
    cards = [len(q.labels[lv]) for q, lv in zip(enc.qis, node)]
    if not with_rows:
        base = _base(enc)
        gens = [q.maps[lv][b] for q, lv, b in zip(enc.qis, node, base.gen_codes)]
        return _combine(gens, cards, len(base.sizes), weights=base.sizes)
    gens = [q.maps[lv][q.codes] for q, lv in zip(enc.qis, node)]
    return _combine(gens, cards, enc.n, with_rows=True)


def _base(enc: Encoded) -> Classes:
    """Distinct tuples of the original QI codes with their counts (computed once)."""
    base = getattr(enc, "_base_classes", None)
    if base is None:
        cards = [len(q.labels[0]) for q in enc.qis]
        base = _combine([q.maps[0][q.codes] for q in enc.qis], cards, enc.n)
        enc._base_classes = base
    return base


def _class_distributions(row_class, n_classes, codes, n_values):
    """(C, V) counts of each sensitive value per class."""
    import numpy as np

    flat = np.bincount(row_class.astype(np.int64) * n_values + codes, minlength=n_classes * n_values)
    return flat.reshape(n_classes, n_values)


def _hierarchical_emd(diff, hierarchy, labels):
    """EMD with hierarchical ground distance (Li et al.), vectorised over classes.

    diff: (C, V) class distribution minus overall distribution. At each internal node
    of height h the cost is h/H * min(positive extra, negative extra) of its children,
    and the node passes the difference of the two upwards.
    """
    import numpy as np

    H = hierarchy.height - 1
    cost = np.zeros(diff.shape[0])
    prev_col = np.arange(len(labels))
    prev_extra = diff
    for lv in range(1, hierarchy.height):
        idx: dict = {}
        col = np.array([idx.setdefault(hierarchy.generalise(v, lv), len(idx)) for v in labels])
        parent = np.zeros(prev_extra.shape[1], dtype=np.int64)
        parent[prev_col] = col
        onehot = np.zeros((prev_extra.shape[1], len(idx)))
        onehot[np.arange(len(parent)), parent] = 1.0
        pos = np.maximum(prev_extra, 0) @ onehot
        neg = np.maximum(-prev_extra, 0) @ onehot
        cost += (lv / H) * np.minimum(pos, neg).sum(axis=1)
        prev_extra = pos - neg
        prev_col = col
    return cost


@dataclass
class Evaluation:
    node: tuple
    ok: bool
    suppressed_rows: int
    classes: Classes
    outlier: object  # (C,) bool: class suppressed
    value: float | None = None
    bound: float | None = None
    # rows that every node below must suppress, at least (see `evaluate`); > the limit: all below fail
    suppressed_below: float = 0.0


def evaluate(enc: Encoded, node, models: PrivacyModels, max_suppressed: int,
             with_rows: bool = False) -> Evaluation:
    """Group, find the classes that violate the models (suppressed), check the limit."""
    import numpy as np

    need_rows = with_rows or bool(models.l_diversity or models.t_closeness)
    cls = group(enc, node, with_rows=need_rows)
    outlier = cls.sizes < models.k
    C = len(cls.sizes)
    for m in models.l_diversity:
        s = enc.sensitive[m.attribute]
        dist = _class_distributions(cls.row_class, C, s.codes, len(s.labels))
        if m.variant == "distinct":
            bad = (dist > 0).sum(axis=1) < m.l
        elif m.variant == "entropy":
            p = dist / cls.sizes[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
            bad = ent < math.log(m.l) - 1e-12
        else:  # recursive (c,l): r1 < c * (r_l + ... + r_m)
            srt = -np.sort(-dist, axis=1)
            li = int(m.l)
            tail = srt[:, li - 1:].sum(axis=1) if srt.shape[1] >= li else np.zeros(C)
            bad = ~(srt[:, 0] < m.c * tail)
        outlier |= bad
    # A bound for the nodes below, which holds for t-closeness too. A class X here is the union of
    # its parts Y_i at any node below. k-anonymity and l-diversity fail on every part of a failing
    # class (treated as monotonic, as ARX does). The distance to the overall distribution is convex
    # (equal and hierarchical EMD alike), so |X| d(X) <= sum |Y_i| d(Y_i) <= t (|X| - s) + Dmax s,
    # where s counts the rows of the parts that fail t: s >= |X| (d(X) - t) / (Dmax - t).
    mono = outlier.copy()
    excess = np.zeros(C)
    for m in models.t_closeness:
        s = enc.sensitive[m.attribute]
        V = len(s.labels)
        dist = _class_distributions(cls.row_class, C, s.codes, V) / cls.sizes[:, None]
        counts = np.bincount(s.codes, minlength=V)
        overall = counts / enc.n
        diff = dist - overall[None, :]
        if m.variant == "equal":
            d = 0.5 * np.abs(diff).sum(axis=1)
            d_max = 1.0 - overall[counts > 0].min()  # all of a class on the rarest value
        else:
            if s.hierarchy is None:
                raise AnonymiseError(f"hierarchical t-closeness of {m.attribute!r} needs a hierarchy")
            d = _hierarchical_emd(diff, s.hierarchy, s.labels)
            d_max = 1.0  # ground distances are at most 1
        fail = d > m.t + 1e-12
        outlier |= fail
        if d_max > m.t:
            excess = np.maximum(excess, np.where(fail, np.minimum((d - m.t) / (d_max - m.t), 1.0), 0.0))
    suppressed = int(cls.sizes[outlier].sum())
    below = float(cls.sizes[mono].sum() + (cls.sizes[~mono] * excess[~mono]).sum())
    return Evaluation(tuple(node), suppressed <= max_suppressed, suppressed, cls, outlier,
                      suppressed_below=below)


# -- metrics ------------------------------------------------------------------------------


def _loss_dims(enc, node, ev):
    n = enc.n
    out = []
    keep = ~ev.outlier
    supp = ev.suppressed_rows
    for j, (q, lv) in enumerate(zip(enc.qis, node)):
        share = q.shares[lv][ev.classes.gen_codes[j]]
        agg = float((share[keep] * ev.classes.sizes[keep]).sum()) + supp
        lo = n / q.domain_size
        out.append(max(0.0, (agg - lo) / (n - lo)))
    return out


def geometric_mean_loss(values) -> float:
    return math.prod(v + 1.0 for v in values) ** (1.0 / len(values)) - 1.0


def metric_value(enc: Encoded, ev: Evaluation, metric: str) -> float:
    import numpy as np

    sizes, keep = ev.classes.sizes, ~ev.outlier
    if metric == "loss":
        return geometric_mean_loss(_loss_dims(enc, ev.node, ev))
    if metric == "discernibility":
        return float((sizes[keep] ** 2).sum() + ev.suppressed_rows * enc.n)
    if metric == "aecs":
        groups = int(keep.sum()) + (1 if ev.suppressed_rows else 0)
        return enc.n / groups
    if metric == "entropy":
        total = 0.0
        for j, (q, lv) in enumerate(zip(enc.qis, ev.node)):
            f0 = q.freqs[0][q.codes]
            fg = q.freqs[lv][q.maps[lv][q.codes]]
            # rows of suppressed classes generalise to the root (frequency n)
            total += float(-np.log2(f0 / fg).sum())
            if ev.suppressed_rows:
                gen = ev.classes.gen_codes[j][ev.outlier]
                sz = ev.classes.sizes[ev.outlier]
                total += float((sz * np.log2(enc.n / q.freqs[lv][gen])).sum())
        return total
    raise AnonymiseError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def _cheap_bounds(enc: Encoded, nodes, metric: str):
    """Lower bound per node without grouping (generalisation only, no suppression)."""
    import numpy as np

    if metric == "loss":
        per = []
        for q in enc.qis:
            lo = enc.n / q.domain_size
            vals = []
            for lv in range(q.height):
                agg = float((q.shares[lv] * q.freqs[lv]).sum())
                vals.append(max(0.0, (agg - lo) / (enc.n - lo)))
            per.append(np.array(vals))
        logsum = np.zeros(len(nodes))
        for j, v in enumerate(per):
            logsum += np.log(v[nodes[:, j]] + 1.0)
        return np.exp(logsum / len(per)) - 1.0
    if metric == "entropy":
        total = np.zeros(len(nodes))
        for j, q in enumerate(enc.qis):
            vals = np.array([float(-np.log2(q.freqs[0][q.codes] / q.freqs[lv][q.maps[lv][q.codes]]).sum())
                             for lv in range(q.height)])
            total += vals[nodes[:, j]]
        return total
    return np.zeros(len(nodes))


def _group_bound(enc, ev, metric):
    """A bound that only grows towards the top of the lattice (suppression ignored)."""
    if metric == "discernibility":
        return float((ev.classes.sizes ** 2).sum())
    if metric == "aecs":
        return enc.n / len(ev.classes.sizes)
    return None


# -- search -------------------------------------------------------------------------------


@dataclass
class SearchResult:
    levels: dict
    node: tuple
    suppressed_rows: int
    information_loss: float
    metric: str
    models: list
    nodes_total: int
    nodes_checked: int
    seconds: float
    evaluation: Evaluation = None


def lattice_nodes(enc: Encoded):
    import numpy as np

    heights = [q.height for q in enc.qis]
    total = math.prod(heights)
    if total > MAX_LATTICE_NODES:
        raise AnonymiseError(
            f"the generalisation lattice has {total:,} nodes (over {MAX_LATTICE_NODES:,}); use fewer "
            "quasi-identifiers or hierarchies with fewer levels")
    grids = np.indices(heights).reshape(len(heights), -1).T
    return grids.astype(np.int16)


def max_suppressed_rows(n: int, suppression: float) -> int:
    if not 0.0 <= suppression <= 1.0:
        raise AnonymiseError(f"suppression limit {suppression} must be a fraction between 0 and 1")
    return int(math.floor(suppression * n + 1e-9))


def search(enc: Encoded, models: PrivacyModels, suppression: float = 0.0, metric: str = "loss",
           progress=None, check_cancelled=None, exhaustive: bool = False) -> SearchResult:
    """The node with the lowest metric value among those satisfying the models.

    Ties go to the lower node (fewer generalisation steps), then to the smaller levels.
    exhaustive=True switches all pruning off (for tests).
    """
    import numpy as np

    if metric not in METRICS:
        raise AnonymiseError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if not enc.qis:
        raise AnonymiseError("no quasi-identifier with a hierarchy was given")
    t0 = time.perf_counter()
    limit = max_suppressed_rows(enc.n, suppression)
    nodes = lattice_nodes(enc)
    heights = nodes.sum(axis=1).astype(np.int64)
    cheap = _cheap_bounds(enc, nodes, metric)
    state = {"best": None, "key": None, "checked": 0}
    dead = np.zeros(len(nodes), dtype=bool)  # proven to fail, or bounded out
    visited = np.zeros(len(nodes), dtype=bool)

    def visit(idx):
        visited[idx] = True
        if check_cancelled is not None and state["checked"] % 64 == 0:
            check_cancelled()
        node = tuple(int(x) for x in nodes[idx])
        ev = evaluate(enc, node, models, limit)
        state["checked"] += 1
        if progress is not None and state["checked"] % 50 == 0:
            progress(state["checked"], len(nodes), f"{state['checked']} transformations checked")
        if not ev.ok:
            # monotonic models: a failure fails everything below; t-closeness: when the rows that
            # every node below must suppress already exceed the limit (Evaluation.suppressed_below)
            if not exhaustive and (models.monotonic or ev.suppressed_below > limit + 1e-9):
                dead[np.all(nodes <= nodes[idx], axis=1)] = True
            return ev
        ev.value = metric_value(enc, ev, metric)
        key = (round(ev.value, 12), int(heights[idx]), node)
        if state["best"] is None or key < state["key"]:
            state["best"], state["key"] = ev, key
        gb = _group_bound(enc, ev, metric)
        if gb is not None and not exhaustive and gb >= state["key"][0]:
            above = np.all(nodes >= nodes[idx], axis=1)
            above[idx] = False
            dead[above] = True
        return ev

    if exhaustive:
        for idx in range(len(nodes)):
            visit(idx)
    else:
        # 1. A good first solution by greedy descent from the top: take the passing child
        #    with the lowest value until no child passes. It lets the bound cut early.
        index = {tuple(int(x) for x in nd): i for i, nd in enumerate(nodes)} if len(nodes) < 200_000 else None
        cur = len(nodes) - 1
        top_ev = visit(cur)
        if top_ev.ok:
            while True:
                best_child = None
                for j in range(nodes.shape[1]):
                    if nodes[cur, j] == 0:
                        continue
                    child = nodes[cur].copy()
                    child[j] -= 1
                    ci = index[tuple(int(x) for x in child)] if index is not None else \
                        int(np.flatnonzero(np.all(nodes == child, axis=1))[0])
                    if dead[ci] or visited[ci]:
                        continue
                    ev = visit(ci)
                    if ev.ok and (best_child is None or ev.value < best_child[0]):
                        best_child = (ev.value, ci)
                if best_child is None:
                    break
                cur = best_child[1]
        # 2. Every node whose bound is below the best must be decided: take the highest
        #    undecided one first, so a failure proves as many nodes below it as possible.
        order = np.lexsort((cheap, -heights))
        while True:
            limit_val = state["key"][0] if state["best"] is not None else np.inf
            # "<=": a node whose bound equals the best may tie it and win on height
            open_ = ~dead & ~visited & (cheap <= limit_val + 1e-12)
            cand = order[open_[order]]
            if len(cand) == 0:
                break
            for idx in cand:
                if dead[idx] or visited[idx]:
                    continue
                if state["best"] is not None and cheap[idx] > state["key"][0] + 1e-12:
                    continue
                visit(idx)
    best = state["best"]
    checked = state["checked"]
    if best is None:
        raise AnonymiseError(
            f"no generalisation satisfies {', '.join(models.describe()) or 'the models'} with at "
            f"most {limit} suppressed rows ({suppression:.2%}); raise the suppression limit or "
            "add hierarchy levels")
    return SearchResult(
        levels={q.name: lv for q, lv in zip(enc.qis, best.node)},
        node=best.node, suppressed_rows=best.suppressed_rows, information_loss=best.value,
        metric=metric, models=models.describe(), nodes_total=len(nodes), nodes_checked=checked,
        seconds=time.perf_counter() - t0, evaluation=best)


def transform_columns(enc: Encoded, node, models: PrivacyModels, suppression: float):
    """Per QI the generalised label of each row, and the (n,) mask of suppressed rows."""
    import numpy as np

    ev = evaluate(enc, node, models, max_suppressed_rows(enc.n, suppression), with_rows=True)
    suppressed = ev.outlier[ev.classes.row_class]
    cols = {}
    for q, lv in zip(enc.qis, node):
        labels = np.array(q.labels[lv], dtype=object)
        cols[q.name] = labels[q.maps[lv][q.codes]]
    return cols, suppressed, ev
