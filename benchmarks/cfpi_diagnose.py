"""Why one-step CFPI stays near zero on OGBench where IQL learns (issue 23): measurements of the three pieces
of a trained cfpi-onestep run on a sample of its dataset's transitions.

- the behavior mixture: mean log-likelihood of the data actions (per action dimension), the component weights
  (how many components carry weight above the operator's threshold), the components' std against the data
  actions' own spread, the distance of the mixture's mean action to the data action;
- the SARSA critic: Spearman rank correlation of Q(s, a_data) with the Monte-Carlo return-to-go over all
  sampled transitions and within states' neighbourhoods of return (the ranking the operator relies on), and
  the spread of Q over the behavior policy's own samples at a state against Q's scale (how much a step on Q
  can gain);
- the step: how far I_MG / I_SG move the action from the mixture's mean, in units of the component std, how
  often the result sits on the action box, and the Q gained by the step.

    .venv/bin/python benchmarks/cfpi_diagnose.py RUN_DIR --samples 4096 --out docs/results/raw/cfpi/diagnose-X.json
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from anypolicy.envs.registry import load_dataset
from anypolicy.train.loop import as_trained, load_agent


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


@torch.no_grad()
def diagnose(run_dir: Path, samples: int, seed: int = 0) -> dict:
    agent, tcfg = load_agent(run_dir)
    cfg = agent.cfg
    data = load_dataset(tcfg.dataset, tcfg.env, episodes=tcfg.dataset_episodes, seed=0)
    returns = as_trained(tcfg, data).mc_returns(cfg.discount, tcfg.reward_scale, tcfg.reward_bias)
    idx = np.random.default_rng(seed).choice(len(data.observations), samples, replace=False)
    obs = agent.normalize(torch.as_tensor(data.observations[idx]))
    actions = torch.as_tensor(data.actions[idx])
    out = {"run": str(run_dir), "recipe": tcfg.recipe, "dataset": tcfg.dataset, "transitions_sampled": samples}

    weights, means, variances = agent.policy.gaussian_mixture(agent.policy_input(obs))
    std = variances.sqrt()
    logp = agent.policy.log_prob(agent.policy_input(obs), actions)
    mixture_mean = (weights[..., None] * means).sum(1)
    out["behavior"] = {
        "log_likelihood_per_dim": float(logp.mean() / actions.shape[1]),
        "components_above_threshold": float((weights > cfg.threshold).sum(-1).float().mean()),
        "max_weight": float(weights.max(-1).values.mean()),
        "component_std": float((weights[..., None] * std).sum(1).mean()),
        "data_action_std": float(actions.std(0).mean()),
        "mean_abs_error_of_mixture_mean": float((mixture_mean - actions).abs().mean()),
    }

    q_data = agent.pessimistic_q(obs, actions)
    out["critic"] = {"spearman_q_vs_return": spearman(q_data.numpy(), returns[idx]),
                     "q_data_mean": float(q_data.mean()), "return_mean": float(returns[idx].mean())}
    # within similar returns: does Q order actions of states with about the same value? (rank correlation
    # inside each of 10 return deciles, averaged)
    deciles = np.quantile(returns[idx], np.linspace(0, 1, 11))
    within = [spearman(q_data.numpy()[m], returns[idx][m]) for lo, hi in zip(deciles[:-1], deciles[1:])
              if (m := (returns[idx] >= lo) & (returns[idx] <= hi)).sum() > 20 and returns[idx][m].std() > 0]
    out["critic"]["spearman_within_return_deciles"] = float(np.mean(within)) if within else None
    behavior = agent.policy.sample(agent.policy_input(obs), 32)  # [B, 32, A]
    q_behavior = agent.pessimistic_q(obs, behavior)  # [B, 32]
    out["critic"]["q_std_over_behavior_samples"] = float(q_behavior.std(-1).mean())
    out["critic"]["q_best_minus_mean_over_samples"] = float((q_behavior.max(-1).values - q_behavior.mean(-1)).mean())

    low, high = agent.action_low, agent.action_high
    steps = {}
    for operator in ("mg", "sg", "ebcq", "none"):
        agent.cfg.operator = operator
        improved = agent.improved(obs)
        on_box = ((improved <= low + 1e-4) | (improved >= high - 1e-4)).float().mean()
        steps[operator] = {"move_over_component_std": float(((improved - mixture_mean).abs() / std.mean(1)).mean()),
                           "on_action_box": float(on_box),
                           "q_gain_over_mixture_mean": float((agent.pessimistic_q(obs, improved) -
                                                              agent.pessimistic_q(obs, mixture_mean)).mean())}
    agent.cfg.operator = cfg.operator
    out["steps"] = steps
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    results = [diagnose(Path(r), args.samples) for r in args.runs]
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
