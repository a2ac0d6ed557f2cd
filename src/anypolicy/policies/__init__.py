"""Policy classes by name: `make_policy("diffusion", obs_dim, action_dim, low, high, hidden=...)`."""
from __future__ import annotations

POLICIES = {
    "gaussian": "anypolicy.policies.gaussian:TanhGaussianPolicy",
    "deterministic": "anypolicy.policies.simple:DeterministicPolicy",
    "mixture": "anypolicy.policies.simple:MixturePolicy",
    "vae": "anypolicy.policies.simple:VAEPolicy",
    "diffusion": "anypolicy.policies.generative:DiffusionPolicy",
    "flow": "anypolicy.policies.generative:FlowPolicy",
    "autoregressive": "anypolicy.policies.autoregressive:AutoregressivePolicy",
}
MLP_POLICIES = {"gaussian", "deterministic", "mixture", "vae"}  # the ones built from `hidden` widths


def size_kwargs(name: str, hidden) -> dict:
    """One knob for every class: MLP widths, or (width, depth) of the residual / transformer networks."""
    if not hidden:
        return {}
    hidden = tuple(hidden)
    if name in MLP_POLICIES:
        return {"hidden": hidden}
    depth = "layers" if name == "autoregressive" else "blocks"
    return {"width": hidden[0], depth: len(hidden)}


def make_policy(name: str, obs_dim: int, action_dim: int, action_low, action_high, hidden=None,
                activation: str = "gelu"):
    """A policy by name (`hidden=None`: the class's default size), or a user class by import path."""
    from anypolicy.policies.adapter import ModulePolicy, import_class

    if name in POLICIES:
        cls = import_class(POLICIES[name])
        extra = {"activation": activation} if name in MLP_POLICIES else {}
        return cls(obs_dim, action_dim, action_low, action_high, **size_kwargs(name, hidden), **extra)
    if ":" in name:
        module = import_class(name)(obs_dim, action_dim, action_low, action_high)
        return ModulePolicy(module, obs_dim, action_dim, action_low, action_high)
    from anypolicy.config import ConfigError

    raise ConfigError(f"unknown policy '{name}'; choose one of {', '.join(POLICIES)} or give package.module:Class.")
