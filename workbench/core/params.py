"""Job parameters: a dataclass per job, checked before a run is created.

A run row stores the params as JSON; the job function receives the dataclass.
Checking happens in the host (CLI, GUI, demo) so that a typo in a parameter
name is an error before anything is written, not a silently ignored key.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from typing import Any, Union

from workbench.core.errors import WorkbenchError


class ParamsError(WorkbenchError, ValueError):
    """Parameters that do not fit the job's params dataclass."""


def _check(value: Any, hint: Any, where: str) -> Any:
    """Check *value* against the annotation *hint*; return it, normalised (tuples to lists, paths to str)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _check(value, option, where)
            except ParamsError as exc:
                errors.append(str(exc))
        raise ParamsError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {hint}")
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        inner = args[0] if args else Any
        return [_check(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {type(value).__name__}")
        kt, vt = args if args else (Any, Any)
        return {_check(k, kt, where): _check(v, vt, f"{where}[{k!r}]") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            raise ParamsError(f"{where}: expected text, got {type(value).__name__} {value!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ParamsError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    return value


def build_params(cls: type, values: dict, *, job: str = "job") -> Any:
    """An instance of the params dataclass *cls* from a plain dict, checked field by field."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{job}: params must be a dataclass, got {cls!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParamsError(f"{job}: unknown parameter(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(fields)) or 'none'}")
    hints = typing.get_type_hints(cls)
    checked = {}
    for name, value in values.items():
        checked[name] = _check(value, hints.get(name, Any), f"{job}.{name}")
    missing = [n for n, f in fields.items() if n not in checked
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ParamsError(f"{job}: missing parameter(s) {', '.join(missing)}")
    try:
        return cls(**checked)
    except (TypeError, ValueError) as exc:  # the dataclass's own __post_init__ checks
        raise ParamsError(f"{job}: {exc}") from exc


def params_dict(params: Any) -> dict:
    """The JSON-able dict stored on the run row."""
    if isinstance(params, dict):
        return dict(params)
    return dataclasses.asdict(params)
