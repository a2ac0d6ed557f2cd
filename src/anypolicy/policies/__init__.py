"""Policy classes by name: `make_policy("diffusion", obs_dim, action_dim, low, high, hidden=...)`."""
from __future__ import annotations

import inspect

POLICIES = {
    "gaussian": "anypolicy.policies.gaussian:TanhGaussianPolicy",
    "gaussian-fixed": "anypolicy.policies.gaussian:FixedStdGaussianPolicy",
    "deterministic": "anypolicy.policies.simple:DeterministicPolicy",
    "mixture": "anypolicy.policies.simple:MixturePolicy",
    "vae": "anypolicy.policies.simple:VAEPolicy",
    "diffusion": "anypolicy.policies.generative:DiffusionPolicy",
    "flow": "anypolicy.policies.generative:FlowPolicy",
    "autoregressive": "anypolicy.policies.autoregressive:AutoregressivePolicy",
}
MLP_POLICIES = {"gaussian", "gaussian-fixed", "deterministic", "mixture", "vae"}  # the ones built from `hidden` widths
_BUILT_IN_ARGS = {"self", "obs_dim", "action_dim", "action_low", "action_high"}


def size_kwargs(name: str, hidden) -> dict:
    """One knob for every class: MLP widths, or (width, depth) of the residual / transformer networks."""
    if not hidden:
        return {}
    hidden = tuple(hidden)
    if name in MLP_POLICIES:
        return {"hidden": hidden}
    depth = "layers" if name == "autoregressive" else "blocks"
    return {"width": hidden[0], depth: len(hidden)}


def _literal(raw: str):
    """An int, a float or else the string itself (for options whose default gives no type)."""
    for tp in (int, float):
        try:
            return tp(raw)
        except ValueError:
            pass
    return raw


def parse_options(cls, text: str) -> dict:
    """Class-specific constructor options from "key=value,key=value" (e.g. "steps=10,sampler=ddim" for
    diffusion), each converted to the type of the parameter's default; unknown keys are refused."""
    from anypolicy.config import ConfigError, convert, parse_assignments

    params = {k: p for k, p in inspect.signature(cls.__init__).parameters.items()
              if k not in _BUILT_IN_ARGS and p.kind is p.POSITIONAL_OR_KEYWORD}
    out = {}
    for key, raw in parse_assignments([t for t in text.split(",") if t.strip()]).items():
        if key not in params:
            raise ConfigError(f"policy option '{key}' is not an option of {cls.__name__}; "
                              f"options: {', '.join(params)}.")
        default = params[key].default
        out[key] = _literal(raw) if default is inspect.Parameter.empty or default is None else convert(key, raw, type(default))
    return out


def policy_class(name: str):
    from anypolicy.config import ConfigError
    from anypolicy.policies.adapter import import_class

    if name in POLICIES:
        return import_class(POLICIES[name])
    if ":" in name:
        return import_class(name)
    raise ConfigError(f"unknown policy '{name}'; choose one of {', '.join(POLICIES)} or give package.module:Class.")


def check_policy_config(cfg) -> None:
    """Refuse an unknown policy or option before a run starts (a recipe config without a policy passes)."""
    if hasattr(cfg, "policy"):
        parse_options(policy_class(cfg.policy), getattr(cfg, "policy_options", ""))


def make_policy(name: str, obs_dim: int, action_dim: int, action_low, action_high, hidden=None,
                activation: str = "gelu", options: str = ""):
    """A policy by name (`hidden=None`: the class's default size), or a user class by import path;
    `options` sets class-specific constructor arguments ("steps=10,sampler=ddim")."""
    from anypolicy.policies.adapter import ModulePolicy

    cls = policy_class(name)
    if name in POLICIES:
        extra = {"activation": activation} if name in MLP_POLICIES else {}
        kwargs = {**size_kwargs(name, hidden), **extra, **parse_options(cls, options)}
        return cls(obs_dim, action_dim, action_low, action_high, **kwargs)
    module = cls(obs_dim, action_dim, action_low, action_high, **parse_options(cls, options))
    return ModulePolicy(module, obs_dim, action_dim, action_low, action_high)


def policy_from_config(cfg, obs_dim: int, action_dim: int, action_low, action_high):
    """The policy a recipe config names (fields policy, hidden, activation, policy_options)."""
    return make_policy(cfg.policy, obs_dim, action_dim, action_low, action_high, cfg.hidden, cfg.activation,
                       cfg.policy_options)
