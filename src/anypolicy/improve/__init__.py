"""Improvement operators: turn actions proposed by a policy into better ones against a critic."""
from anypolicy.improve.action_opt import (Candidates, ActionOptimization, cfpi_local_opt, distillation_targets,
                                          global_opt, local_opt, sample_covariance, select)
from anypolicy.improve.cem import cem_search

__all__ = ["Candidates", "ActionOptimization", "cem_search", "cfpi_local_opt", "distillation_targets", "global_opt",
           "local_opt", "sample_covariance", "select"]
