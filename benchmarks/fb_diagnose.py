"""Why FB's zero-shot policy fails a task (issue 24): three measurements per task on a trained FB run, no
environment steps.

1. Reward inference: z_r from 100k labelled transitions (as zero-shot does); on 100k held-out transitions, how
   well B(s')^T z_r ranks the task's success states above the rest (ROC AUC; 0.5 is chance) and the best any
   linear read-out of B reaches (least squares on the inference half, AUC on the held-out half): whether the
   reward lies in B's span at all.
2. Successor measure: Spearman rank correlation of Q(s, a, z_r) = F(s, a, z_r)^T z_r with the dataset's
   discounted Monte-Carlo returns of the task (the data's policy, not pi_z: a check of F's scale and ordering).
3. Actor: the share of states where pi(s, z_r)'s action has a higher Q(s, ., z_r) than the dataset's action,
   and the mean gap.

    ANYPOLICY_DATA_DIR=/work/data .venv/bin/python benchmarks/fb_diagnose.py /work/runs/fb-s0 --tasks 1 2 3 4 5 \
        --out docs/results/raw/bfm/diagnose-cube-single-fb-s0.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata, spearmanr

from anypolicy.bfm.adapt import task_env
from anypolicy.bfm.fb import reward_latent
from anypolicy.envs.registry import load_dataset
from anypolicy.train.loop import load_agent


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney U from average ranks)."""
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic)


@torch.no_grad()
def diagnose(agent, tcfg, task: int, samples: int = 100_000, seed: int = 0) -> dict:
    env_id = task_env(tcfg.env, task)
    data = load_dataset(tcfg.dataset, env_id, episodes=tcfg.dataset_episodes, seed=0)
    returns = data.mc_returns(agent.cfg.discount)
    idx = np.random.default_rng(seed).permutation(len(data))
    infer, held = idx[:samples], idx[samples:2 * samples]
    as_t = lambda x: torch.as_tensor(np.asarray(x).reshape(len(x), -1), dtype=torch.float32)  # noqa: E731
    rewards = data.rewards - data.rewards.min()  # 1 on success, 0 elsewhere (OGBench's -1/0 shifted)
    b = {k: agent.backward_map(agent.normalize(as_t(data.next_observations[i]))) for k, i in (("infer", infer), ("held", held))}
    z_r = reward_latent(b["infer"], torch.as_tensor(rewards[infer]))
    success = rewards[held] > 0.5
    fit = np.linalg.lstsq(np.c_[b["infer"].numpy(), np.ones(samples)], rewards[infer], rcond=None)[0]
    obs = agent.normalize(as_t(data.observations[held]))
    z = z_r.expand(len(held), -1)
    q_data = agent.q_heads(obs, torch.as_tensor(data.actions[held]), z).mean(0)
    pi = agent.policy.act(agent.actor_input(obs, z), deterministic=True)
    q_pi = agent.q_heads(obs, pi, z).mean(0)
    return {"task": task, "env": env_id, "success_share": float(success.mean()),
            "reward_auc_of_z_r": auc((b["held"] @ z_r).numpy(), success),
            "reward_auc_best_linear": auc(np.c_[b["held"].numpy(), np.ones(samples)] @ fit, success),
            "q_spearman_with_mc_returns": spearman(q_data.numpy(), returns[held]),
            "actor_beats_data_share": float((q_pi > q_data).float().mean()),
            "actor_minus_data_q": float((q_pi - q_data).mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--tasks", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--out")
    args = ap.parse_args()
    agent, tcfg = load_agent(args.run)
    rows = []
    for task in args.tasks:
        row = diagnose(agent, tcfg, task, args.samples)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"run": args.run, "steps": tcfg.steps, "agent": {
            k: getattr(agent.cfg, k) for k in ("z_dim", "f_hidden", "b_hidden", "hidden", "actor")}, "rows": rows},
            indent=2))


if __name__ == "__main__":
    main()
