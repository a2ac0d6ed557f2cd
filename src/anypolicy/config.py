"""Typed configs from dataclasses, overridden by `key=value` strings with clear errors."""
from __future__ import annotations

import dataclasses
import types
import typing


class ConfigError(ValueError):
    """An unknown key or a value of the wrong type."""


def convert(key: str, raw, tp) -> typing.Any:
    """`raw` as a value of type `tp`: a `key=value` string parsed, or a Python value (from the API) checked."""
    if not isinstance(raw, str):
        return convert_value(key, raw, tp)
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if origin is tuple:
            inner = typing.get_args(tp)[0]
            parts = [p for p in raw.strip("()[] ").split(",") if p.strip()]
            return tuple(inner(p.strip()) for p in parts)
        if origin in (typing.Union, types.UnionType):  # Optional[X] / X | None
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            return None if raw.lower() in ("none", "auto") else convert(key, raw, args[0])  # None: the field's auto
        return tp(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"'{key}={raw}': expected a value of type {getattr(tp, '__name__', tp)}.") from None


def convert_value(key: str, value, tp) -> typing.Any:
    """A typed value for a field of type `tp`: ints where floats go, lists where tuples go, None where the field
    is optional; anything else is refused as the string form would be."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(convert_value(key, v, typing.get_args(tp)[0]) for v in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(tp, type) and isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"'{key}={value!r}': expected a value of type {getattr(tp, '__name__', tp)}.")


def override(cfg, assignments: dict[str, str], strict: bool = True):
    """A copy of dataclass `cfg` with `assignments` (strings, or Python values) converted to the fields' types;
    the assignments it does not know are returned too (or refused when strict)."""
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}
    known = {k: convert(k, v, hints[k]) for k, v in assignments.items() if k in names}
    rest = {k: v for k, v in assignments.items() if k not in names}
    if strict and rest:
        raise ConfigError(f"unknown config key(s) {', '.join(sorted(rest))}; valid keys: {', '.join(sorted(names))}.")
    return dataclasses.replace(cfg, **known), rest


# keys with a valid range, wherever a recipe has them: name -> (test, what the range is)
def _positive(v):
    return v > 0


def _at_least_one(v):
    return v >= 1


def _unit_open(v):
    return 0 < v < 1


RANGES = {
    "expectile": (_unit_open, "in (0, 1)"),
    "discount": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "target_tau": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "samples": (_at_least_one, "at least 1"), "act_samples": (_at_least_one, "at least 1"),
    "keep": (_at_least_one, "at least 1"), "ensemble": (_at_least_one, "at least 1"),
    "local_steps": (lambda v: v >= 0, "at least 0"), "cql_actions": (_at_least_one, "at least 1"),
    "cql_states": (lambda v: v >= 0, "at least 0 (0: every state of the batch)"),
    "flow_steps": (_at_least_one, "at least 1"), "diffusion_steps": (_at_least_one, "at least 1"),
    "actor_freq": (_at_least_one, "at least 1"), "policy_delay": (_at_least_one, "at least 1"),
    "beta": (lambda v: v >= 0, "at least 0"), "alpha": (lambda v: v >= 0, "at least 0"),
    "cql_alpha": (lambda v: v >= 0, "at least 0"), "cql_temperature": (_positive, "above 0"),
    "lr": (_positive, "above 0"), "critic_lr": (_positive, "above 0"), "policy_lr": (_positive, "above 0"),
    "actor_lr": (_positive, "above 0"), "batch_size": (_at_least_one, "at least 1"),
    "planner_ema": (lambda v: 0 <= v < 1, "in [0, 1) (0: no EMA)"), "planner_ema_every": (_at_least_one, "at least 1"),
    "hindsight_steps": (lambda v: v >= 0, "at least 0 (0: goal_steps)"),
}
PAIRS = [("keep", "samples", "keep at most samples"), ("target_heads", "ensemble", "target_heads at most ensemble")]


def check_ranges(cfg) -> None:
    """Refuse a value outside its key's valid range (RANGES), naming the key, the value and the range."""
    values = dataclasses.asdict(cfg)
    for key, (ok, what) in RANGES.items():
        v = values.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not ok(v):
            raise ConfigError(f"{key}={v}: must be {what}.")
    for small, large, what in PAIRS:
        a, b = values.get(small), values.get(large)
        if isinstance(a, int) and isinstance(b, int) and a > b:
            raise ConfigError(f"{small}={a}, {large}={b}: {what}.")


def parse_assignments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"'--set {item}': expected key=value.")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def to_dict(cfg) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
