"""Log rules: a regular expression with a threshold over a time window, in a small YAML format.

Format (version 1)::

    version: 1
    rules:
      - id: auth_failure_burst          # unique, letters/digits/_/-
        title: Burst of authentication failures
        pattern: 'authentication failed|invalid api key'
        ignore_case: true               # optional, default false
        key: 'client=(?P<key>\\S+)'      # optional: count per key (a client address); a line
                                        # with no key counts under "*". Alternatives may use
                                        # key2, key3 ... (RE2 names must be unique); the first
                                        # that matched is the key
        threshold: 5                    # this many matching lines ...
        window_s: 60                    # ... within this many seconds raise one alert
        severity: HIGH                  # LOW, MEDIUM or HIGH (default MEDIUM)
        concern: intrusion              # optional: which term of the health score it counts against
                                        # (availability, resources, integrity, intrusion, model_service;
                                        # default intrusion)
        actions: [{type: notify}]       # optional (see actions.py); without it the alert notifies,
                                        # `actions: []` only stores it

Patterns use RE2 syntax (google-re2): matching takes time linear in the line,
so a rule like ``(a+)+$`` cannot stall the monitor on a hostile line. Without
google-re2, Python's ``re`` runs in a helper process with a deadline per line
(``guarded_re``): a line it gives up on counts as no match and is reported.
Backreferences and lookaround are not available; a pattern that uses them is
refused with the file, the line and RE2's reason. Lines reach the rules
already cut to the follower's ``max_line``.

Once a rule fired for a key it stays quiet until that key's count in the
window falls back below the threshold, so a flood is one alert, not one per
line. Time is when the monitor read the line (log formats disagree on
timestamps); a backlog read at start-up therefore counts as one burst.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from importlib import resources

from .rules import Alert, check_severity_and_actions
from .score import CONCERNS

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SHIPPED = "inference_service.yaml"
#: The shipped rule packs (``rules/<name>.yaml``), all loaded when a recording follows logs without its own rules.
PACKS = ("inference_service", "auth", "web_access", "llm_service")


class LogRuleError(ValueError):
    """A rules file that cannot be used; the message names the file and line."""


def _re2():
    """google-re2 when installed, else None (then Python's re runs under a deadline: guarded_re)."""
    try:
        import re2
    except ImportError:
        return None
    return re2


def _compile(pattern: str, ignore_case: bool, where: str):
    re2 = _re2()
    if re2 is None:
        from .guarded_re import GuardedPattern

        try:
            return GuardedPattern(pattern, ignore_case)
        except re.error as exc:
            raise LogRuleError(f"{where}: pattern {pattern!r} is not a valid regular expression: {exc}") from None
    opts = re2.Options()
    opts.log_errors = False
    opts.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, opts)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise LogRuleError(f"{where}: pattern {pattern!r} is not valid RE2: {reason}") from None


@dataclass
class LogRule:
    id: str
    pattern: str
    threshold: int = 1
    window_s: float = 60.0
    title: str = ""
    key: str | None = None
    ignore_case: bool = False
    severity: str = "MEDIUM"
    actions: list = field(default_factory=lambda: [{"type": "notify"}])
    where: str = ""
    concern: str = "intrusion"

    def __post_init__(self) -> None:
        self._rx = _compile(self.pattern, self.ignore_case, self.where)
        self._key_rx = _compile(self.key, self.ignore_case, self.where) if self.key else None
        self._key_groups = sorted(g for g in (self._key_rx.groupindex if self._key_rx else {})
                                  if g.startswith("key"))
        if self._key_rx is not None and not self._key_groups:
            raise LogRuleError(f"{self.where}: 'key' must contain a named group (?P<key>...)")
        self._hits: dict[str, deque] = {}
        self._armed: dict[str, bool] = {}
        self.matches = 0

    def key_of(self, text: str) -> str:
        if self._key_rx is None:
            return "*"
        m = self._key_rx.search(text)
        if not m:
            return "*"
        return next((m.group(g) for g in self._key_groups if m.group(g)), "*")

    def timeouts(self) -> list[str]:
        """What the deadline-guarded fallback gave up on since the last call (empty with RE2)."""
        out = []
        for rx in (self._rx, self._key_rx):
            if rx is not None and getattr(rx, "timeouts", 0) > getattr(rx, "_reported", 0):
                rx._reported = rx.timeouts
                out.append(f"{self.where}: rule {self.id}: {rx.last_timeout}")
        return out

    def feed(self, ts: float, text: str) -> tuple[bool, str, int, bool]:
        """(matched, key, count in window, fires now) for one line."""
        if not self._rx.search(text):
            return False, "", 0, False
        self.matches += 1
        key = self.key_of(text)
        q = self._hits.setdefault(key, deque())
        q.append(ts)
        while q and ts - q[0] > self.window_s:
            q.popleft()
        count = len(q)
        armed = self._armed.get(key, True)
        if count >= self.threshold and armed:
            self._armed[key] = False
            return True, key, count, True
        if count < self.threshold:
            self._armed[key] = True
        return True, key, count, False

    def expire(self, ts: float) -> None:
        """Forget old hits, re-arming keys whose count fell under the threshold (called now and then)."""
        for key in list(self._hits):
            q = self._hits[key]
            while q and ts - q[0] > self.window_s:
                q.popleft()
            if len(q) < self.threshold:
                self._armed[key] = True
            if not q:
                del self._hits[key]


@dataclass
class LogHit:
    ts: float
    path: str
    offset: int
    rule: str
    key: str
    text: str


class LogRuleSet:
    def __init__(self, rules: list[LogRule], source: str = ""):
        self.rules = rules
        self.source = source

    def feed(self, ts: float, path: str, offset: int, text: str) -> tuple[list[LogHit], list[Alert]]:
        hits, alerts = [], []
        for rule in self.rules:
            matched, key, count, fires = rule.feed(ts, text)
            if not matched:
                continue
            hits.append(LogHit(ts, path, offset, rule.id, key, text[:2000]))
            if fires:
                per = f" from {key}" if key != "*" else ""
                msg = (f"{count} matching line{'s' if count > 1 else ''}{per} within {rule.window_s:g} s "
                       f"in {path}" if rule.threshold > 1 else f"{path}: {text[:300]}")
                alerts.append(Alert(rule.id, "log", "firing", rule.severity, ts, rule.title or rule.id, msg,
                                    None, float(count), {"path": path, "offset": offset, "key": key,
                                                         "line": text[:2000], "concern": rule.concern},
                                    rule.actions))
        return hits, alerts

    def expire(self, ts: float) -> None:
        for rule in self.rules:
            rule.expire(ts)

    def timeouts(self) -> list[str]:
        return [msg for rule in self.rules for msg in rule.timeouts()]


def parse_rules(text: str, source: str = "<rules>") -> LogRuleSet:
    import yaml

    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise LogRuleError(f"{source}{at}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise LogRuleError(f"{source}:1: expected a mapping with a 'rules' list")
    if data.get("version", 1) != 1:
        raise LogRuleError(f"{source}:1: unsupported version {data.get('version')!r}; this monitor reads version 1")
    lines = []
    for k, v in root.value:
        if k.value == "rules":
            lines = [item.start_mark.line + 1 for item in v.value]
    rules, seen = [], set()
    allowed = {"id", "title", "pattern", "key", "ignore_case", "threshold", "window_s", "severity", "actions",
               "concern"}
    for i, d in enumerate(data["rules"]):
        where = f"{source}:{lines[i] if i < len(lines) else '?'}"
        if not isinstance(d, dict):
            raise LogRuleError(f"{where}: each rule must be a mapping")
        unknown = set(d) - allowed
        if unknown:
            raise LogRuleError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        rid = d.get("id")
        if not isinstance(rid, str) or not _ID.match(rid):
            raise LogRuleError(f"{where}: 'id' must be a short name of letters, digits, _ . -")
        if rid in seen:
            raise LogRuleError(f"{where}: id {rid!r} is used twice")
        seen.add(rid)
        if not isinstance(d.get("pattern"), str) or not d["pattern"]:
            raise LogRuleError(f"{where}: rule {rid}: 'pattern' (a regular expression) is required")
        try:
            threshold = int(d.get("threshold", 1))
            window = float(d.get("window_s", 60))
        except (TypeError, ValueError):
            raise LogRuleError(f"{where}: rule {rid}: 'threshold' and 'window_s' must be numbers") from None
        if threshold < 1 or window <= 0:
            raise LogRuleError(f"{where}: rule {rid}: 'threshold' must be >= 1 and 'window_s' > 0")
        severity, actions = check_severity_and_actions(d, where, rid, LogRuleError)
        concern = d.get("concern", "intrusion")
        if concern not in CONCERNS:
            raise LogRuleError(f"{where}: rule {rid}: 'concern' must be one of {list(CONCERNS)}, got {concern!r}")
        rules.append(LogRule(rid, d["pattern"], threshold, window, str(d.get("title") or rid), d.get("key"),
                             bool(d.get("ignore_case", False)), severity, actions, where, concern))
    return LogRuleSet(rules, source)


def load_rules(path) -> LogRuleSet:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LogRuleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LogRuleError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_rules(text, str(path))


def shipped_rules(packs=None) -> LogRuleSet:
    """The shipped rule packs (all of :data:`PACKS` by default) as one rule set; ids are unique across packs."""
    names = PACKS if packs is None else tuple(packs)
    rules, seen = [], {}
    for name in names:
        if name not in PACKS:
            raise LogRuleError(f"unknown rule pack {name!r}; the packs are {list(PACKS)}")
        ref = resources.files("workbench_plugins.monitor").joinpath("rules").joinpath(f"{name}.yaml")
        pack = parse_rules(ref.read_text(encoding="utf-8"), f"workbench_plugins/monitor/rules/{name}.yaml")
        for r in pack.rules:
            if r.id in seen:
                raise LogRuleError(f"{r.where}: id {r.id!r} is also used in pack {seen[r.id]}")
            seen[r.id] = name
        rules.extend(pack.rules)
    return LogRuleSet(rules, "shipped rule packs: " + ", ".join(names))
