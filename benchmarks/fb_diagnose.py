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
4. Temporal order of the successor measure, task-free (once per run): for a dataset state s_t and action a_t and
   the state g = s_{t+k} the same episode reached k steps later, M = F(s_t, a_t, B(g))^T B(g), the value of
   pi_{B(g)} for reaching g. A measure that carries reachability ranks near goals above far ones: its mean per k,
   and the Spearman correlation of M with -k over all pairs (k = inf: g from another episode). And whether the
   actor uses the latent: pi(s_t, B(g))'s mean distance to the data action a_t per k (a goal-directed actor
   follows a_t more closely for near goals), and the mean change of its action between two goals at one state.

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


@torch.no_grad()
def successor_ordering(agent, tcfg, pairs: int = 4096, ks=(1, 5, 25, 100, 400), seed: int = 0) -> dict:
    data = load_dataset(tcfg.dataset, tcfg.env, episodes=tcfg.dataset_episodes, seed=0)
    rng = np.random.default_rng(seed)
    as_t = lambda x: torch.as_tensor(np.asarray(x).reshape(len(x), -1), dtype=torch.float32)  # noqa: E731
    by_k, to_data, all_m, all_k = {}, {}, [], []
    for k in (*ks, None):
        start = rng.integers(0, len(data) - (k or 1), pairs * 2)
        if k is None:  # a goal from another episode
            goal = rng.integers(0, len(data), pairs * 2)
            keep = data.episode_ids[goal] != data.episode_ids[start]
        else:  # g = s_{t+k}: the next observation of transition t + k - 1, in the same episode
            goal = start + k - 1
            keep = data.episode_ids[goal] == data.episode_ids[start]
        start, goal = start[keep][:pairs], goal[keep][:pairs]
        obs = agent.normalize(as_t(data.observations[start]))
        z = agent.backward_map(agent.normalize(as_t(data.next_observations[goal])))
        actions = torch.as_tensor(data.actions[start])
        m = agent.q_heads(obs, actions, z).mean(0).numpy()
        pi = agent.policy.act(agent.actor_input(obs, z), deterministic=True)
        key = "inf" if k is None else str(k)
        by_k[key] = float(m.mean())
        to_data[key] = float((pi - actions).abs().mean())
        all_m.append(m)
        all_k.append(np.full(len(m), np.inf if k is None else k))
        if k is None:  # the same states with the goals of another draw: how much the latent moves the action
            other = agent.backward_map(agent.normalize(as_t(data.next_observations[rng.permutation(goal)])))
            moved = float((agent.policy.act(agent.actor_input(obs, other), deterministic=True) - pi).abs().mean())
    return {"mean_m_by_k": by_k, "pairs_per_k": pairs,
            "spearman_m_with_minus_k": spearman(np.concatenate(all_m), -np.concatenate(all_k)),
            "actor_to_data_action_by_k": to_data, "actor_change_between_two_goals": moved,
            "data_action_mean_abs": float(np.abs(data.actions).mean())}


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
    ordering = successor_ordering(agent, tcfg)
    print(json.dumps(ordering), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"run": args.run, "steps": tcfg.steps, "agent": {
            k: getattr(agent.cfg, k) for k in ("z_dim", "f_hidden", "b_hidden", "hidden", "actor")}, "rows": rows,
            "successor_ordering": ordering}, indent=2))


if __name__ == "__main__":
    main()
