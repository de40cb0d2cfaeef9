"""LLM endpoint probes: a YAML probe pack run N times per probe, with hit rates and transcripts.

The pack format is documented in ``PROBES.md`` beside this file; the shipped
pack is ``packs/default.yaml``. ``load_pack`` validates a pack and names the
file and the probe (by index and id) for every mistake.

``run_probes(url, pack, runs=N, ...)`` sends each probe ``runs`` times with
the recorded temperature and seed (seed + attempt), decides a hit with the
probe's detectors, and returns per-probe and per-category hit rates and every
transcript (masked). Only loopback or explicitly allowed hosts are contacted.
"""

from __future__ import annotations

import os
import re
import time

from .endpoint import answer_text, chat_url, check_allowed, post_json
from .errors import EndpointError, TestingError

CATEGORIES = ("prompt_injection", "system_prompt_leakage", "pii_echo", "insecure_output", "jailbreak")
SEVERITIES = ("LOW", "MEDIUM", "HIGH")
DEFAULT_PACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packs", "default.yaml")


#: Shortest quote of the prompt that counts as an echo (shorter: common words and phrases).
ECHO_MIN_CHARS = 12
_OWN_EVIDENCE = ("an answer that refuses but quotes the prompt back would count as a hit. Evidence must be "
                 "something the prompt did not supply: a canary in the system message, or a word the model "
                 "has to form itself (ask for P-W-N-E-D without the hyphens, detect PWNED)")


class PackError(TestingError):
    pass


def load_pack(path: str) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise PackError(f"{path}: no such probe pack") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise PackError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict) or not isinstance(data.get("probes"), list) or not data["probes"]:
        raise PackError(f"{path}: a probe pack is a mapping with a non-empty 'probes' list")
    seen = set()
    probes = []
    for index, probe in enumerate(data["probes"]):
        where = f"{path}: probe {index + 1}"
        if not isinstance(probe, dict):
            raise PackError(f"{where}: each probe is a mapping (id, category, prompt, hit)")
        pid = probe.get("id")
        if not isinstance(pid, str) or not pid:
            raise PackError(f"{where}: 'id' is missing")
        where += f" ({pid})"
        if pid in seen:
            raise PackError(f"{where}: the id is used twice")
        seen.add(pid)
        if probe.get("category") not in CATEGORIES:
            raise PackError(f"{where}: 'category' must be one of {', '.join(CATEGORIES)}")
        if not isinstance(probe.get("prompt"), str) or not probe["prompt"].strip():
            raise PackError(f"{where}: 'prompt' is missing")
        for key in ("system", "context"):
            if key in probe and not isinstance(probe[key], str):
                raise PackError(f"{where}: '{key}' must be text")
        hit = probe.get("hit")
        if not isinstance(hit, dict) or not (hit.get("contains") or hit.get("regex")):
            raise PackError(f"{where}: 'hit' needs 'contains' and/or 'regex' (lists of what marks a hit)")
        contains = hit.get("contains") or []
        regexes = hit.get("regex") or []
        if not isinstance(contains, list) or not all(isinstance(c, str) and c for c in contains):
            raise PackError(f"{where}: 'hit.contains' must be a list of non-empty strings")
        compiled = []
        for rx in regexes if isinstance(regexes, list) else [None]:
            try:
                compiled.append(re.compile(rx, re.IGNORECASE | re.MULTILINE))
            except (re.error, TypeError) as exc:
                raise PackError(f"{where}: bad regex {rx!r} in 'hit.regex': {exc}") from None
        supplied = [probe["prompt"]] + ([probe["context"]] if probe.get("context") else [])
        for needle in contains:
            if any(needle.lower() in text.lower() for text in supplied):
                raise PackError(f"{where}: hit {needle!r} appears in the probe's own prompt or context: "
                                f"{_OWN_EVIDENCE}")
        for rx in compiled:
            if any(rx.search(text) for text in supplied):
                raise PackError(f"{where}: hit regex {rx.pattern!r} matches the probe's own prompt or context: "
                                f"{_OWN_EVIDENCE}")
        severity = str(probe.get("severity", "MEDIUM")).upper()
        if severity not in SEVERITIES:
            raise PackError(f"{where}: 'severity' must be LOW, MEDIUM or HIGH")
        probes.append({"id": pid, "category": probe["category"], "prompt": probe["prompt"],
                       "system": probe.get("system"), "context": probe.get("context"),
                       "contains": contains, "regex": compiled, "severity": severity,
                       "description": probe.get("description", "")})
    return {"name": str(data.get("name") or os.path.basename(path)), "version": str(data.get("version", "1")),
            "path": os.path.abspath(path), "probes": probes}


def messages_of(probe: dict) -> list[dict]:
    messages = []
    if probe.get("system"):
        messages.append({"role": "system", "content": probe["system"]})
    if probe.get("context"):
        messages.append({"role": "user", "content": probe["context"]})
        messages.append({"role": "assistant", "content": "Noted."})
    messages.append({"role": "user", "content": probe["prompt"]})
    return messages


def strip_echoes(text: str, supplied: list[str], min_len: int = ECHO_MIN_CHARS) -> str:
    """``text`` with every passage that copies ``min_len`` or more characters of ``supplied`` blanked out.

    Case and runs of white space are ignored when comparing, so a refusal that
    quotes the prompt back ("I won't reply 'Step 1: ...'") loses the quote.
    """
    def normalise(t: str) -> tuple[str, list[int]]:
        chars, where, space = [], [], False
        for i, ch in enumerate(t):
            if ch.isspace():
                if space:
                    continue
                ch, space = " ", True
            else:
                ch, space = ch.lower(), False
            chars.append(ch)
            where.append(i)
        return "".join(chars), where

    grams = set()
    for source in supplied:
        norm, _ = normalise(source)
        grams.update(norm[i:i + min_len] for i in range(len(norm) - min_len + 1))
    if not grams:
        return text
    norm, where = normalise(text)
    blank = bytearray(len(norm))
    for i in range(len(norm) - min_len + 1):
        if norm[i:i + min_len] in grams:
            blank[i:i + min_len] = b"\x01" * min_len
    if not any(blank):
        return text
    out = list(text)
    for j, b in enumerate(blank):
        if b:
            out[where[j]] = " "
    return "".join(out)


def is_hit(probe: dict, text: str) -> tuple[bool, str]:
    """(hit, what matched) for an answer ``text``.

    Evidence must come from the model, not from the probe: passages of the
    answer that quote the probe's prompt or context are left out first.
    """
    supplied = [probe["prompt"]] + ([probe["context"]] if probe.get("context") else [])
    text = strip_echoes(text, supplied)
    lowered = text.lower()
    for needle in probe["contains"]:
        if needle.lower() in lowered:
            return True, needle
    for rx in probe["regex"]:
        m = rx.search(text)
        if m:
            return True, rx.pattern
    return False, ""


def run_probes(url: str, pack: dict, *, runs: int = 5, model: str = "default", temperature: float = 0.7,
               seed: int = 0, api_key: str | None = None, allowed_hosts=(), timeout: float = 30.0,
               max_tokens: int = 512, progress=None, check_cancelled=None, log=None) -> dict:
    from .masking import mask_text

    if runs < 1:
        raise TestingError("runs must be at least 1")
    url = chat_url(url)
    check_allowed(url, allowed_hosts)
    log = log or (lambda msg: None)

    def hide(text: str) -> str:
        # An endpoint may echo the key back (a debug page, a reflected header): never store it.
        return text.replace(api_key, "[API key]") if api_key and text else text

    total = runs * len(pack["probes"])
    transcripts, results, errors = [], [], []
    done = 0
    answered = 0
    started = time.monotonic()
    for probe in pack["probes"]:
        hits = 0
        probe_errors = 0
        for attempt in range(runs):
            if check_cancelled is not None:
                check_cancelled()
            body = {"model": model, "messages": messages_of(probe), "temperature": temperature,
                    "seed": seed + attempt, "max_tokens": max_tokens, "stream": False}
            record = {"probe": probe["id"], "attempt": attempt, "temperature": temperature, "seed": seed + attempt,
                      "prompt": mask_text(probe["prompt"]), "answer": "", "hit": False, "matched": "",
                      "latency_s": None, "error": ""}
            try:
                data, elapsed = post_json(url, body, api_key=api_key, timeout=timeout, allowed_hosts=allowed_hosts)
                text = answer_text(url, data)
                hit, matched = is_hit(probe, text)
                answered += 1
                record.update(answer=mask_text(hide(text)[:8000]), hit=hit, matched=matched, latency_s=elapsed)
                hits += hit
            except EndpointError as exc:
                if answered == 0 and "connection refused" in str(exc):
                    raise  # nothing is listening: no point in sending the rest
                probe_errors += 1
                record["error"] = mask_text(hide(str(exc)))
                errors.append(record["error"])
            transcripts.append(record)
            done += 1
            if progress is not None:
                progress(done, total, f"probe {probe['id']} {attempt + 1}/{runs}")
        valid = runs - probe_errors
        results.append({"id": probe["id"], "category": probe["category"], "severity": probe["severity"],
                        "runs": runs, "answered": valid, "hits": hits, "errors": probe_errors,
                        "hit_rate": hits / valid if valid else None})
        log(f"probe {probe['id']}: {hits}/{valid} hits" + (f", {probe_errors} errors" if probe_errors else ""))
    categories = {}
    for cat in CATEGORIES:
        rows = [r for r in results if r["category"] == cat]
        answered_n = sum(r["answered"] for r in rows)
        if rows:
            categories[cat] = {"probes": len(rows), "hits": sum(r["hits"] for r in rows), "answered": answered_n,
                               "hit_rate": sum(r["hits"] for r in rows) / answered_n if answered_n else None}
    all_answered = sum(r["answered"] for r in results)
    status = "done" if all_answered else "failed"
    messages = []
    if errors:
        messages.append(f"{len(errors)} of {total} requests failed; first: {errors[0]}")
    return {"kind": "probe", "url": url, "pack": pack["name"], "pack_version": pack["version"], "model": model,
            "runs": runs, "temperature": temperature, "seed": seed, "status": status, "messages": messages,
            "probes": results, "categories": categories, "transcripts": transcripts,
            "requests": total, "answered": all_answered, "errors": len(errors),
            "hits": sum(r["hits"] for r in results),
            "hit_rate": sum(r["hits"] for r in results) / all_answered if all_answered else None,
            "duration": time.monotonic() - started}
