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


def make_policy(name: str, obs_dim: int, action_dim: int, action_low, action_high, hidden=(256, 256),
                activation: str = "gelu"):
    """A policy by name, or a user class by import path ('package.module:Class')."""
    from anypolicy.policies.adapter import ModulePolicy, import_class

    if name in POLICIES:
        cls = import_class(POLICIES[name])
        if name in MLP_POLICIES:
            return cls(obs_dim, action_dim, action_low, action_high, hidden=tuple(hidden), activation=activation)
        return cls(obs_dim, action_dim, action_low, action_high)
    if ":" in name:
        module = import_class(name)(obs_dim, action_dim, action_low, action_high)
        return ModulePolicy(module, obs_dim, action_dim, action_low, action_high)
    from anypolicy.config import ConfigError

    raise ConfigError(f"unknown policy '{name}'; choose one of {', '.join(POLICIES)} or give package.module:Class.")
