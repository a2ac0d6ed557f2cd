"""PA-RL (parl-calql, diffusion policy) update throughput on cube-like shapes (28-dim observations, 5-dim
actions), with the paper's settings and with a cheaper CPU setting, and the share of update time spent
in global optimization (policy sampling + ranking), local optimization, the critic and distillation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parl_throughput.py --updates 20 --out docs/results/raw/parl-throughput-cpu.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parl_throughput.py --only row-online row-online-T2 row-online-T0 \
        row-online-k4-m2-T2 --updates 5 --out docs/results/raw/parl-throughput-online-cpu.json   # stage 3
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parl_throughput.py --only row-online row-online-pool \
        row-online-pool-T2 row-online-pool-T0 row-online-pool-k4-m2-T0 --updates 20 \
        --out docs/results/raw/parl-throughput-online-pool-cpu.json   # stage 3 with the online rounds' cache
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from anypolicy.agents.parl import PARLCalQL, PARLCalQLConfig
from anypolicy.config import override

SETTINGS = {  # PA-RL Appendix B: k = 32, m = 10, T = 10, 5-step diffusion 256 x 3 blocks, 10 critics
    "paper": {},
    "cpu": {"hidden": "128,128", "samples": "16", "keep": "4", "local_steps": "5", "ensemble": "2"},
}
# the cheap setting with the action cache: samples drawn ahead for a dataset of CACHE_STATES states
SETTINGS["cpu-cache"] = {**SETTINGS["cpu"], "action_cache": "1000000"}
SETTINGS["cpu-cfpi-step"] = {**SETTINGS["cpu"], "local_step": "cfpi"}  # one closed-form step instead of 5
# the schedules: distillation at every 4th update; the late setting (8 samples, 2 local steps) from update 2 on
SETTINGS["cpu-distill4"] = {**SETTINGS["cpu"], "distill_every": "4"}
SETTINGS["cpu-late"] = {**SETTINGS["cpu"], "late_after": "1", "late_samples": "8", "late_local_steps": "2"}
# stage 2 of the staged pipeline (critic pre-training against the frozen policy's cached samples): the paper's
# setting, and with fewer local steps (the lever of issue 20; it also changes acting)
SETTINGS["paper-critic"] = {"bc_steps": "0"}
SETTINGS["paper-critic-T2"] = {"bc_steps": "0", "local_steps": "2"}
# the regularizer on 64 of the batch's 256 states: the candidates at the states are then improved for those only
SETTINGS["paper-critic-s64"] = {"bc_steps": "0", "cql_states": "64"}
# the CPU protocol's candidates for a cell (issue 20): 2 heads of 4x256, k 32 cached samples, m 4, no local
# steps while the policy is frozen (acting keeps its own), the regularizer on 64 states; and one lever at a time
PROTOCOL = {"bc_steps": "0", "ensemble": "2", "critic_hidden": "256,256,256,256", "local_steps": "0", "keep": "4",
            "cql_states": "64"}
SETTINGS["protocol-critic"] = PROTOCOL
SETTINGS["protocol-critic-k8"] = {**PROTOCOL, "samples": "8"}
SETTINGS["protocol-critic-T2"] = {**PROTOCOL, "local_steps": "2"}
SETTINGS["protocol-critic-2x256"] = {**PROTOCOL, "critic_hidden": "256,256"}
SETTINGS["protocol-critic-m2"] = {**PROTOCOL, "keep": "2"}
# a smaller diffusion policy (2 residual blocks of 128): the cache's fill is the policy's FLOPs times k
SMALL = {**PROTOCOL, "hidden": "128,128"}
SETTINGS["protocol-critic-small-k8"] = {**SMALL, "samples": "8"}
SETTINGS["protocol-critic-small-k16"] = {**SMALL, "samples": "16"}
SETTINGS["protocol-critic-small-k8-2x256"] = ROW_CRITIC = {**SMALL, "samples": "8", "critic_hidden": "256,256"}
# the row's critic stage with the autoregressive policy (issue 20's one-task row): 128 bins, transformer layers of
# width 128 or 64, one pass per action dimension; the fill is what differs from the diffusion row
SETTINGS["row-critic-ar-2x128"] = {**ROW_CRITIC, "policy": "autoregressive"}
SETTINGS["row-critic-ar-2x64"] = {**ROW_CRITIC, "policy": "autoregressive", "hidden": "64,64"}
# the online stage (stage 3) of the protocol row's setting (benchmarks/ogbench_cpu.sh): fresh samples at every
# update (the policy moves), T 10 as at acting, distillation at each update; and fewer local steps / samples
ROW = {"hidden": "128,128", "samples": "8", "keep": "4", "ensemble": "2", "critic_hidden": "256,256", "cql_states": "64"}
SETTINGS["row-online"] = ROW
SETTINGS["row-online-T2"] = {**ROW, "local_steps": "2"}
SETTINGS["row-online-T0"] = {**ROW, "local_steps": "0"}
SETTINGS["row-online-k4-m2-T2"] = {**ROW, "samples": "4", "keep": "2", "local_steps": "2"}
# ... and with the online rounds of the action cache (Appendix E): the samples of a pool of CACHE_STATES states
# drawn once (timed), then re-ranked and improved at every update; a cell's rate is the update's plus the fill's
# share (fill s per 1k states x pool / updates per round)
POOL = {**ROW, "action_cache": "1000000000"}
SETTINGS["row-online-pool"] = POOL
SETTINGS["row-online-pool-T2"] = {**POOL, "local_steps": "2"}
SETTINGS["row-online-pool-T0"] = {**POOL, "local_steps": "0"}
SETTINGS["row-online-pool-k4-m2-T0"] = {**POOL, "samples": "4", "keep": "2", "local_steps": "0"}
ONLINE = {name for name in SETTINGS if "-online" in name}
CACHE_STATES = 16384
LABELS = ("parl/global", "parl/local", "parl/critic", "parl/distill")


def batch(size, obs_dim, action_dim, device):
    return {"observations": torch.randn(size, obs_dim, device=device),
            "next_observations": torch.randn(size, obs_dim, device=device),
            "actions": torch.rand(size, action_dim, device=device) * 2 - 1,
            "rewards": -torch.ones(size, device=device), "masks": torch.ones(size, device=device),
            "mc_returns": -50 * torch.ones(size, device=device)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None)
    p.add_argument("--only", nargs="+", choices=sorted(SETTINGS), help="measure these settings only")
    p.add_argument("--cache-states", type=int, default=CACHE_STATES, help="dataset states the cache is filled for")
    args = p.parse_args()
    rows = {}
    for name, sets in (SETTINGS.items() if not args.only else ((k, SETTINGS[k]) for k in args.only)):
        cfg, _ = override(PARLCalQLConfig(), sets)
        agent = PARLCalQL(cfg, 28, 5, -np.ones(5), np.ones(5)).to(args.device)
        b = batch(args.batch, 28, 5, args.device)
        extra, data, step = {}, None, iter(range(1, 10**9))
        if name in ONLINE:  # as the fine-tuning loop starts stage 3; acting as it collects (ms per action)
            agent.start_online()
            obs = np.zeros((1, 28), np.float32)
            agent.act(obs, deterministic=False)
            t0 = time.perf_counter()
            for _ in range(20):
                agent.act(obs, deterministic=False)
            extra["act_ms"] = round((time.perf_counter() - t0) / 20 * 1000, 2)
        if cfg.action_cache or (cfg.bc_steps == 0 and name not in ONLINE):  # fill once (timed), then every batch
            # is served from the cache
            states = torch.randn(args.cache_states + 1, 28, device=args.device)  # one trajectory: s'_t = s_t+1
            data = {"observations": states[:-1], "next_observations": states[1:]}
            t0 = time.perf_counter()
            agent.before_update(next(step), data)
            extra["cache_fill_s_per_1k_states"] = round((time.perf_counter() - t0) / args.cache_states * 1000, 3)
            b["indices"] = torch.randint(args.cache_states, (args.batch,), device=args.device)
        def update():  # as the training loop does: the schedules' decisions, then the update
            agent.before_update(next(step), data)
            agent.update(b)
        update()  # warm-up
        rates = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(args.updates):
                update()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            rates.append(args.updates / (time.perf_counter() - t0))
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(max(4, args.updates // 4)):
                update()
        totals = {e.key: e.cpu_time_total for e in prof.key_averages() if e.key in LABELS}
        whole = sum(totals.values())
        rows[name] = {"settings": sets or "defaults", **extra, "updates_per_s_median": round(statistics.median(rates), 3),
                      "updates_per_s_rounds": [round(r, 3) for r in rates],
                      "time_share": {k.split("/")[1]: round(v / whole, 3) for k, v in totals.items()}}
        print(name, json.dumps(rows[name]), flush=True)
    if args.out:
        meta = {"threads": torch.get_num_threads(), "batch": args.batch, "device": args.device, "torch": torch.__version__}
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
