"""CFPI's operators and algorithms on one task, several seeds: the thesis' Table 3.4 comparison (SG-BC,
MG-BC, SG-EBCQ, MG-EBCQ, I_SG, I_MG, MG-MS), I_DET after EBCQ with a VAE (Algorithm 3), iterative I_MG
(Algorithm 2), PA-RL with its gradient steps and with the CFPI local step, and the sensitivity of I_MG to
log tau (a plot). The one-step rows share their trained BC policy and SARSA critic; only acting differs.

    # the built-in toy task (small networks, 3000 updates; PA-RL 1000)
    ANYPOLICY_DATA_DIR=/tmp/apdata .venv/bin/python benchmarks/cfpi_table.py --runs runs/cfpi-toy --seeds 0 1 2 \
        --out docs/results/raw/cfpi/toy.json --plot docs/results/cfpi-toy-tau.png
    # an OGBench task at a reduced CPU budget (the thesis' 3 x 256 networks)
    .venv/bin/python benchmarks/cfpi_table.py --dataset ogbench:cube-single-play \
        --env cube-single-singletask-task2-v0 --preset ogbench --steps 20000 --parl-steps 0 --runs runs/cfpi-cube
"""
import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from anypolicy.evaluate import stats
from anypolicy.train.loop import load_agent, run_eval, train

COMMON = ["eval_episodes=50", "log_every=1000", "progress=false", "tensorboard=false", "threads=1"]
PRESETS = {  # name: {run: (recipe, overrides)}
    "toy": {"mg": ("cfpi-onestep", ["critic_hidden=128,128", "critic_lr=1e-3", "policy_lr=1e-3"]),
            "parl-gradient": ("parl-calql", ["hidden=64,64", "critic_hidden=64,64", "ensemble=2", "critic_lr=1e-3",
                                             "policy_lr=1e-3", "samples=8", "keep=4"])},
    # the thesis' Gym-MuJoCo settings (3 x 256, policy lr 1e-4); PA-RL in parl.md's cheap CPU setting
    "ogbench": {"mg": ("cfpi-onestep", []),
                "parl-gradient": ("parl-calql", ["policy=diffusion", "hidden=128,128", "critic_hidden=256,256",
                                                 "ensemble=2", "samples=8", "keep=2", "local_steps=3"])},
}


def runs_for(preset):
    mg_recipe, mg = PRESETS[preset]["mg"]
    parl_recipe, parl = PRESETS[preset]["parl-gradient"]
    return {"mg": (mg_recipe, mg), "sg": (mg_recipe, mg + ["policy_options=components=1"]),
            "vae": (mg_recipe, mg + ["policy=vae", "policy_options=", "operator=det"]),
            "iterative": ("cfpi-iterative", mg), "parl-gradient": (parl_recipe, parl),
            "parl-cfpi": (parl_recipe, parl + ["local_step=cfpi"]),
            "parl-cfpi-small": (parl_recipe, parl + ["local_step=cfpi", "cfpi_log_tau=0.05"])}


ROWS = {  # table row: (run, agent fields at evaluation)
    "SG-BC": ("sg", {"operator": "none"}), "MG-BC": ("mg", {"operator": "none"}),
    "SG-EBCQ (10 samples)": ("sg", {"operator": "ebcq", "samples": 10}),
    "MG-EBCQ (5 samples)": ("mg", {"operator": "ebcq", "samples": 5}),
    "MG-MS": ("mg", {"operator": "mg-ms"}), "I_SG": ("sg", {"operator": "sg"}), "I_MG": ("mg", {"operator": "mg"}),
    "I_MG, LSE only": ("mg", {"operator": "lse"}), "I_MG, Jensen only": ("mg", {"operator": "jensen"}),
    "I_DET after EBCQ, VAE (Alg. 3)": ("vae", {}), "iterative I_MG (Alg. 2)": ("iterative", {}),
    "PA-RL, gradient steps": ("parl-gradient", {}), "PA-RL, CFPI local step (log tau 0.5)": ("parl-cfpi", {}),
    "PA-RL, CFPI local step (log tau 0.05)": ("parl-cfpi-small", {}),
}
LOG_TAUS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def evaluate(run_dir, fields, episodes):
    agent, tcfg = load_agent(run_dir)
    for k, v in fields.items():
        setattr(agent.cfg, k, v)
    return run_eval(agent, tcfg, episodes)["success"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default="runs/cfpi-toy")
    p.add_argument("--dataset", default="toy:nav")
    p.add_argument("--env", default=None)
    p.add_argument("--preset", default="toy", choices=sorted(PRESETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--parl-steps", type=int, default=1000, help="0: leave the PA-RL rows out")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--out", default=None)
    p.add_argument("--plot", default=None)
    p.add_argument("--table-from", default=None, help="print the table of a saved --out JSON and exit")
    p.add_argument("--no-train", action="store_true", help="evaluate the finished runs only, train nothing")
    p.add_argument("--train-only", nargs="+", default=None, help="train only these runs (mg sg vae iterative parl-...)")
    args = p.parse_args()
    if args.table_from:
        saved = json.loads(Path(args.table_from).read_text())
        seeds = sorted({int(s) for v in saved["rows"].values() for s in v})
        return print_table({"rows": {r: {int(s): v for s, v in by.items()} for r, by in saved["rows"].items()}}, seeds)
    torch.set_num_threads(1)
    results = {"args": vars(args), "rows": {}, "tau": {}}
    rows = {k: v for k, v in ROWS.items() if args.parl_steps or not v[0].startswith("parl")}
    for seed in args.seeds:
        dirs = {}
        for name, (recipe, sets) in runs_for(args.preset).items():
            dirs[name] = Path(args.runs) / f"{name}-s{seed}"
            steps = args.parl_steps if name.startswith("parl") else args.steps
            wanted = args.train_only is None or name in args.train_only
            if steps and wanted and not args.no_train and not (dirs[name] / "summary.json").exists():
                sets = COMMON + [f"eval_every={steps}", f"checkpoint_every={steps}"] + sets
                train(recipe, args.dataset, env=args.env, steps=steps, seed=seed, run_dir=dirs[name], overrides=sets)
        for row, (run, fields) in rows.items():
            if (dirs[run] / "summary.json").exists():
                results["rows"].setdefault(row, {})[seed] = evaluate(dirs[run], fields, args.episodes)
        for log_tau in LOG_TAUS:
            results["tau"].setdefault(str(log_tau), {})[seed] = evaluate(dirs["mg"], {"log_tau": log_tau}, args.episodes)
        print(f"seed {seed}:", json.dumps({r: v.get(seed) for r, v in results["rows"].items()}), flush=True)
    print_table(results, args.seeds)
    print("log tau:", {t: statistics.mean(v.values()) for t, v in results["tau"].items()})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    if args.plot:
        plot_tau(results["tau"], args.seeds, args.plot)


def print_table(results, seeds):
    """Markdown rows: per-seed success, mean and its 95% bootstrap interval over seeds."""
    print("| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean [95% CI] |")
    for row, by_seed in results["rows"].items():
        vals = np.array([by_seed[s] for s in seeds if s in by_seed], dtype=float)
        mean, lo, hi = stats.bootstrap_ci(vals[:, None], stats.aggregate_mean)
        cells = " | ".join(f"{by_seed[s]:.0f}" if s in by_seed else "-" for s in seeds)
        print(f"| {row} | {cells} | {mean:.1f} [{lo:.1f}, {hi:.1f}] |")


def plot_tau(tau_results, seeds, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    taus = [float(t) for t in tau_results]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for s in seeds:
        ax.plot(taus, [tau_results[str(t)][s] for t in taus], color="#999999", lw=0.8, marker=".", alpha=0.7)
    ax.plot(taus, [statistics.mean(tau_results[str(t)].values()) for t in taus], color="#0072B2", lw=2,
            marker="o", label=f"mean of {len(seeds)} seeds")
    ax.set_xlabel("log tau (trust region of I_MG)")
    ax.set_ylabel("success (%)")
    ax.set_title("CFPI I_MG on toy:nav: sensitivity to tau")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    fig.savefig(str(Path(path).with_suffix(".svg")))


if __name__ == "__main__":
    main()
