"""A yardstick for the critic diagnoses of issues 23 and 24: the Spearman rank correlation of a trained run's
Q(s, a_data) (the minimum over heads) with the dataset's discounted Monte-Carlo returns of its task, on a
random sample of transitions. Both FB's successor measure and CFPI's SARSA critic were measured near 0; this
says what a critic whose policy succeeds (IQL) reaches on the same data.

    ANYPOLICY_DATA_DIR=/work/data .venv/bin/python benchmarks/critic_rank.py /work/runs/iql-cube-single-s0 \
        --out docs/results/raw/critic-rank-cube-single.json
    ANYPOLICY_DATA_DIR=/work/data .venv/bin/python benchmarks/critic_rank.py /work/runs/parl-calql-scene-s0 \
        --samples 2000 --policy-samples 8 --out docs/results/raw/ogbench-cpu/critic-rank-parl-calql-scene-s0.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from anypolicy.envs.registry import load_dataset
from anypolicy.train.loop import as_trained, load_agent


@torch.no_grad()
def critic_rank(run: str, samples: int, seed: int = 0, policy_samples: int = 0) -> dict:
    agent, tcfg = load_agent(run)
    data = load_dataset(tcfg.dataset, tcfg.env, episodes=tcfg.dataset_episodes, seed=0)
    returns = as_trained(tcfg, data).mc_returns(agent.cfg.discount, tcfg.reward_scale, tcfg.reward_bias)
    idx = np.random.default_rng(seed).choice(len(data), samples, replace=False)
    obs = agent.normalize(torch.as_tensor(data.observations[idx].reshape(samples, -1)))
    q = agent.q(obs, torch.as_tensor(data.actions[idx])).min(0).values
    out = {"run": run, "recipe": tcfg.recipe, "steps": tcfg.steps, "transitions_sampled": samples,
           "spearman_q_vs_return": float(spearmanr(q.numpy(), returns[idx]).statistic),
           "q_mean": float(q.mean()), "return_mean": float(returns[idx].mean())}
    if policy_samples:  # how a candidate-ranking agent (PA-RL) orders its policy's samples at a state
        actions = agent.policy.sample(agent.policy_input(obs), policy_samples)  # [N, k, A]
        heads = agent.q(obs.repeat_interleave(policy_samples, 0), actions.flatten(0, 1))
        heads = heads.reshape(len(heads), samples, policy_samples)  # [H, N, k]
        out.update(policy_samples=policy_samples, q_std_over_samples=float(heads.mean(0).std(-1).mean()),
                   best_minus_mean=float((heads.mean(0).max(-1).values - heads.mean(0).mean(-1)).mean()))
        if len(heads) > 1:  # do two heads order a state's samples alike?
            out["heads_rank_agreement"] = float(np.nanmean([spearmanr(heads[0, i], heads[1, i]).statistic
                                                            for i in range(samples)]))
            out["heads_same_argmax"] = float((heads[0].argmax(-1) == heads[1].argmax(-1)).float().mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--policy-samples", type=int, default=0,
                    help="also rank this many policy samples per state (PA-RL's global step)")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [critic_rank(run, args.samples, policy_samples=args.policy_samples) for run in args.runs]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
