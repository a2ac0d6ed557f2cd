"""What every agent shares: construction from a config and a dataset, acting, optimizers, the registry."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn


class Agent(nn.Module):
    """An algorithm: networks + optimizers + `update(batch) -> metrics`. Weights are the module's
    state_dict; optimizer states are reached through `optimizers()` (the checkpoint saves both)."""

    Config: type
    takes_images = True  # an image encoder can sit in front (see `attach_encoder`)
    separate_encoders = True  # the policy may have an encoder of its own (its inputs go through policy_input)
    capturable = True  # an update without Python decisions between steps, so a CUDA graph can replay it
    seed_batchable = False  # `losses` + `moving_averages` are the whole update (train/multiseed.py)
    fuses_steps = False  # every step of the update goes through `step_on` (compile fuses each into one graph)

    def __init__(self, cfg, obs_dim: int, action_dim: int, action_low, action_high,
                 obs_mean: np.ndarray | None = None, obs_std: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.obs_dim, self.action_dim = obs_dim, action_dim
        mean = torch.zeros(obs_dim) if obs_mean is None else torch.as_tensor(obs_mean, dtype=torch.float32)
        std = torch.ones(obs_dim) if obs_std is None else torch.as_tensor(obs_std, dtype=torch.float32)
        self.register_buffer("obs_mean", mean)
        self.register_buffer("obs_std", std)
        self.register_buffer("action_low", torch.as_tensor(action_low, dtype=torch.float32).reshape(action_dim))
        self.register_buffer("action_high", torch.as_tensor(action_high, dtype=torch.float32).reshape(action_dim))
        self.pixels, self.encoder_trainer = None, None  # image front end (attach_encoder)
        self.fused_steps = None  # compiled steps by (optimizer, loss), once `compiled_update` enables them
        self.built_from = None  # {"train", "agent", "dims"}: what `save` records (set by train.loop.build_agent)

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """What the networks see: standardized states, or the features of uint8 images (augmented while training)."""
        if self.pixels is not None:
            return self.pixels(obs)
        return (obs - self.obs_mean) / self.obs_std

    def attach_encoder(self, pixels: nn.Module) -> None:
        """Put an image front end (nets/encoders.py PixelInput) before every network, built for obs_dim = its
        feature size. Shared (one encoder): the critic's optimizer trains it and the policy sees its features
        detached (DrQ-v2, PA-RL); a recipe without a critic (BC) trains it with the policy's loss. Separate
        (pixels.policy_encoder): the critic's encoder is trained by the critic's loss, the policy's by the
        policy's loss."""
        from anypolicy.config import ConfigError

        name = type(self).__name__
        if not self.takes_images:
            raise ConfigError(f"recipe {name} does not learn from images yet.")
        if getattr(self.cfg, "action_cache", 0):
            raise ConfigError("action_cache draws samples for every dataset state ahead; from images it would "
                              "hold one encoding per stored frame: train without it (action_cache=0).")
        optimizers = self.optimizers()
        self.encoder_trainer = next(k for k in ("critic_opt", "opt", "policy_opt") if k in optimizers)
        if pixels.policy_encoder is not None:
            if self.encoder_trainer == "policy_opt" or not self.separate_encoders:
                raise ConfigError(f"recipe {name} takes one shared encoder (encoder_sharing=shared): "
                                  + ("it has no critic." if self.encoder_trainer == "policy_opt" else
                                     "its operators evaluate the policy and the critic at one input."))
            own = "policy_opt" if "policy_opt" in optimizers else self.encoder_trainer
            optimizers[own].add_param_group({"params": list(pixels.policy_encoder.parameters())})
        optimizers[self.encoder_trainer].add_param_group({"params": list(pixels.encoder.parameters())})
        self.pixels = pixels

    def policy_input(self, features: torch.Tensor) -> torch.Tensor:
        """What the policy sees of normalized observations: with a shared image encoder its features, detached
        unless the policy's optimizer trains it; with separate encoders the policy encoder's features."""
        if self.pixels is None or self.encoder_trainer == "policy_opt":
            return features
        return features.policy_view if self.pixels.policy_encoder is not None else features.detach()

    @staticmethod
    def first_states(features: torch.Tensor, n: int) -> torch.Tensor:
        """The first n rows of normalized observations, the policy encoder's view (separate encoders) with them."""
        out = features[:n]
        if hasattr(features, "policy_view"):
            out.policy_view = features.policy_view[:n]
        return out

    def observation_tensor(self, obs) -> torch.Tensor:
        """Observations from environments as a tensor on the agent's device: states as float32, images as uint8
        [n, C, H, W], frame stacks [n, k, H, W, C] (gymnasium's FrameStackObservation) as [n, k * C, H, W]."""
        device = self.obs_mean.device
        if self.pixels is None:
            return torch.as_tensor(obs, dtype=torch.float32, device=device)
        images = torch.as_tensor(np.asarray(obs), dtype=torch.uint8, device=device)
        if images.dim() == 4:
            images = images.unsqueeze(1)
        n, k, h, w, c = images.shape
        return images.permute(0, 1, 4, 2, 3).reshape(n, k * c, h, w)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.optim.Optimizer)}

    def make_optimizer(self, module: nn.Module, lr: float) -> torch.optim.Optimizer:
        params = [p for p in module.parameters() if p.requires_grad]  # not EMA or target copies
        return torch.optim.Adam(params, lr=lr, fused=params[0].device.type in ("cpu", "cuda"))

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(summed loss, metrics) of recipes whose update is one step of every optimizer on one loss
        followed by `moving_averages()`: only those can train several seeds as one batched model."""
        raise NotImplementedError

    def moving_averages(self) -> list[tuple[str, str, float]]:
        """(target module, source module, rate): copies that follow their source after each step (target
        networks, a diffusion policy's EMA weights)."""
        decay = getattr(getattr(self, "policy", None), "ema_decay", None)
        return [("policy.ema", "policy.model", 1.0 - decay)] if decay is not None else []

    def compiled_update(self):
        """The update under torch.compile. Recipes whose steps all go through `step_on` get each step compiled
        as one graph (loss, gradients, Adam) and keep their Python decisions between steps (TD3's policy
        delay) eager; otherwise the whole update is compiled."""
        if self.fuses_steps and self.pixels is None:  # an image encoder runs outside the losses (Cal-QL)
            self.fused_steps = {}
            return self.update
        return torch.compile(self.update)

    def step_on(self, optimizer: torch.optim.Optimizer, loss_fn, *args) -> dict[str, torch.Tensor]:
        """One step of `optimizer` on `loss_fn(*args) -> (loss, metrics)`, gradients for its own parameters only
        (an actor's loss through the critic leaves the critic's .grad alone); returns the metrics. Compiled
        (`compiled_update`), the loss, its gradients and the Adam update are one graph
        (agents/fused_step.py)."""
        fused = self.fused_steps
        if fused is None:
            loss, metrics = loss_fn(*args)
            step_own(optimizer, loss)
            return metrics
        key = (id(optimizer), loss_fn.__name__)
        if key not in fused:
            from anypolicy.agents.fused_step import fused_adam_step

            fused[key] = fused_adam_step(self, optimizer, loss_fn)
        return fused[key](*args)

    def before_update(self, step: int, data: dict[str, torch.Tensor] | None) -> None:
        """Hook before update number `step` of a run (1-based), with the offline data's tensors."""

    def start_online(self) -> None:
        """Hook called once when online fine-tuning starts from an offline checkpoint (PA-RL's stage 3)."""

    @classmethod
    def offline_data(cls, tcfg, acfg, device):
        """Recipes with data of their own (the language recipes) return (sampler, dims, (mean, std));
        None: the training loop's transitions of `tcfg.dataset`."""
        return None

    def evaluate_run(self, tcfg, episodes: int) -> dict | None:
        """Recipes evaluated otherwise than by episodes of `tcfg.env` (language chains) return metrics."""
        return None

    def before_eval(self, data: dict[str, torch.Tensor] | None) -> None:
        """Hook before an evaluation during training, with the offline data's tensors (FB infers its task
        latent here)."""

    def smoothed(self, actions: torch.Tensor, noise: float, clip: float) -> torch.Tensor:
        """TD3's target policy smoothing: Gaussian noise clipped to +-clip (fractions of each action's
        half-range) added to `actions`, then back into the action box."""
        eps = (torch.randn_like(actions) * noise).clamp(-clip, clip)
        return (actions + eps * (self.action_high - self.action_low) / 2).clamp(self.action_low, self.action_high)

    def after_policy_step(self) -> None:
        """Policies with post-step work (a diffusion policy's EMA weights) expose `after_step`."""
        hook = getattr(self.policy, "after_step", None)
        if hook is not None:
            hook()

    @torch.no_grad()
    def act(self, obs: np.ndarray | torch.Tensor, deterministic: bool = True) -> np.ndarray:
        """Actions [B, A] for observations [B, ...] (NumPy or tensors, as the environment gives them)."""
        obs_t = self.policy_input(self.normalize(self.observation_tensor(obs)))
        return self.policy.act(obs_t, deterministic=deterministic).cpu().numpy()

    @torch.no_grad()
    def sample(self, obs: np.ndarray | torch.Tensor, n: int = 1) -> np.ndarray:
        """n draws of the policy per observation: [B, n, A]."""
        if not hasattr(self, "policy"):
            raise TypeError(f"{type(self).__name__} has no policy to sample from.")
        obs_t = self.policy_input(self.normalize(self.observation_tensor(obs)))
        return self.policy.sample(obs_t, n).cpu().numpy()

    @torch.no_grad()
    def q_value(self, obs: np.ndarray | torch.Tensor, actions: np.ndarray | torch.Tensor,
                reduce: str = "mean") -> np.ndarray:
        """Q(s, a) [B] of the critic's heads reduced by mean or min ([heads, B] with reduce='none')."""
        if not isinstance(getattr(self, "q", None), nn.Module):
            raise TypeError(f"{type(self).__name__} has no Q-function.")
        if reduce not in ("mean", "min", "none"):
            raise ValueError(f"reduce must be mean, min or none, got '{reduce}'.")
        obs_t = self.normalize(self.observation_tensor(obs))
        q = self.q(obs_t, torch.as_tensor(actions, dtype=torch.float32, device=obs_t.device))
        q = q if q.dim() > 1 else q.unsqueeze(0)
        q = q.mean(0) if reduce == "mean" else q.min(0).values if reduce == "min" else q
        return q.cpu().numpy()

    def save(self, path) -> "Path":
        """The agent as a directory that `anypolicy.load` reads: weights.safetensors and agent.json (recipe,
        configs, sizes), written atomically. Agents built by anypolicy (fit, load, a run) know their configs."""
        import json
        from pathlib import Path

        from safetensors.torch import save_file

        from anypolicy.atomic import atomic_directory

        if self.built_from is None:
            raise ValueError("this agent was built by hand: build it with anypolicy.fit or anypolicy.load to save it.")
        with atomic_directory(Path(path)) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                      str(tmp / "weights.safetensors"))
            (tmp / "agent.json").write_text(json.dumps(self.built_from, indent=2, default=lambda a: np.asarray(a).tolist()))
        return Path(path)


def step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def step_own(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """`step` with gradients for the optimizer's own parameters only: an actor loss through the critic then
    skips the critic's weight gradients (its .grad stays untouched; the critic's next step recomputes it).
    A parameter the loss does not reach gets a zero gradient, so Adam still applies its momentum, as one
    optax optimizer over several networks does (ReBRAC's critic-only steps) and as the fused step does."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
        p.grad = torch.zeros_like(p) if g is None else g
    optimizer.step()


RECIPES: dict[str, str] = {  # recipe name -> "module:Class"; imported on use
    "bc": "anypolicy.agents.bc:BC",
    "iql": "anypolicy.agents.iql:IQL",
    "cql": "anypolicy.agents.calql:CQL",
    "calql": "anypolicy.agents.calql:CalQL",
    "parl-calql": "anypolicy.agents.parl:PARLCalQL",
    "parl-iql": "anypolicy.agents.parl:PARLIQL",
    "parl-rlpd": "anypolicy.agents.parl:PARLRLPD",
    "idql": "anypolicy.agents.parl:IDQL",
    "td3bc": "anypolicy.agents.td3bc:TD3BC",
    "rebrac": "anypolicy.agents.rebrac:ReBRAC",
    "fql": "anypolicy.agents.fql:FQL",
    "cfpi-onestep": "anypolicy.agents.cfpi:CFPI",
    "cfpi-iterative": "anypolicy.agents.cfpi:IterativeCFPI",
    "fb": "anypolicy.bfm.fb:FB",
    "lcd": "anypolicy.hierarchy.lcd:LCD",
    "lcd-mlp": "anypolicy.hierarchy.lcd:LCDMLP",
    "lcd-flat": "anypolicy.hierarchy.lcd:LCDFlat",
}


def recipe_class(name: str) -> type[Agent]:
    import importlib

    from anypolicy.config import ConfigError

    if name not in RECIPES and ":" not in name:
        raise ConfigError(f"unknown recipe '{name}'; available: {', '.join(sorted(RECIPES))}, or a recipe of your "
                          "own as package.module:Class (an Agent subclass with a Config dataclass).")
    module, cls = RECIPES.get(name, name).split(":", 1)
    try:
        found = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import recipe '{name}': {exc}") from None
    if not (isinstance(found, type) and issubclass(found, Agent) and dataclasses.is_dataclass(getattr(found, "Config", None))):
        raise ConfigError(f"recipe '{name}' is not an Agent subclass with a Config dataclass.")
    return found

