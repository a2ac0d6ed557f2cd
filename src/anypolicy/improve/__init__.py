"""Improvement operators: turn actions proposed by a policy into better ones against a critic."""
from anypolicy.improve.action_opt import (Candidates, ActionOptimization, distillation_targets, global_opt,
                                          local_opt, select)
from anypolicy.improve.cem import cem_search

__all__ = ["Candidates", "ActionOptimization", "cem_search", "distillation_targets", "global_opt", "local_opt", "select"]
