"""Improvement operators: turn actions proposed by a policy into better ones against a critic."""
from anypolicy.improve.action_opt import (Candidates, ActionOptimization, distillation_targets, global_opt,
                                          local_opt, select)

__all__ = ["Candidates", "ActionOptimization", "distillation_targets", "global_opt", "local_opt", "select"]
