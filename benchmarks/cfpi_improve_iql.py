"""CFPI's I_SG on top of trained IQL runs (thesis Table 3.3): each checkpoint acts with its Gaussian
policy's mean, then with one closed-form step of that Gaussian (pre-tanh) along Sigma grad Q to the
boundary of the tau trust region, for several log tau; seeded evaluation, so only acting differs.

    .venv/bin/python benchmarks/cfpi_improve_iql.py runs/sweeps/toy/toy-nav/iql-s{0,1,2} \
        runs/sweeps/toy/toy-nav-corner/iql-s{0,1,2} --out docs/results/raw/cfpi/iql-isg-toy.json
"""
import argparse
import json
from pathlib import Path

import torch

from anypolicy.train.loop import load_agent, run_eval


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    # the step moves the pre-squash mean by sqrt(2 log tau) standard deviations: IQL's constant-std-1 actor (FQL's,
    # the default since issue 19) needs far smaller values than a learned std of ~0.1-0.4 (thesis Table 3.3)
    p.add_argument("--log-taus", type=float, nargs="+", default=[0.0002, 0.001, 0.005, 0.02, 0.1])
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    results = {}
    for run in args.runs:
        agent, tcfg = load_agent(run)
        row = {"IQL": run_eval(agent, tcfg, args.episodes)["success"]}
        agent.cfg.act_improve = "sg"
        for log_tau in args.log_taus:
            agent.cfg.act_log_tau = log_tau
            row[f"IQL + I_SG (log tau {log_tau:g})"] = run_eval(agent, tcfg, args.episodes)["success"]
        results[run] = {"task": tcfg.env, "seed": tcfg.seed, "sparse_reward": tcfg.sparse_reward, "success": row}
        print(run, json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
