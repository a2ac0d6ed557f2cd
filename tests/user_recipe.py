"""A recipe of a user's own, outside the package: named by its import path (`user_recipe:ShrunkBC`)."""
from dataclasses import dataclass

from anypolicy.agents.bc import BC


@dataclass
class ShrunkBCConfig:
    policy: str = "deterministic"
    policy_options: str = ""
    hidden: tuple[int, ...] | None = (32, 32)
    lr: float = 1e-3
    activation: str = "gelu"
    shrink: float = 0.9  # the dataset actions cloned, pulled towards 0 by this factor


class ShrunkBC(BC):
    Config = ShrunkBCConfig

    def losses(self, batch):
        loss = self.policy.loss(self.normalize(batch["observations"]), self.cfg.shrink * batch["actions"])
        return loss, {"policy_loss": loss}
