"""Offline -> online, and hybrid, from Python: PA-RL's staged pipeline offline (BC of a diffusion policy, then
its critic), fine-tuned online with distillation; then RLPD + PA-RL started from a BC run.

    python examples/offline_to_online.py
    python examples/offline_to_online.py --steps 40 --online-steps 60   # a quick check (the tests run it so)
"""
import argparse

import anypolicy as ap

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=2000)
p.add_argument("--online-steps", type=int, default=2000)
p.add_argument("--out", default="runs/example-o2o")
args = p.parse_args()
train = ap.TrainConfig(eval_every=0, eval_episodes=5, progress=False, tensorboard=False)

# a small PA-RL setting for a CPU (the paper's is samples=32, keep=10, local_steps=10, ensemble=10)
parl = ap.PARLCalQLConfig(hidden=(64, 64), critic_hidden=(64, 64), ensemble=2, samples=8, keep=4, local_steps=2)
offline = ap.fit(parl, "toy:nav", steps=args.steps, run_dir=f"{args.out}/parl", train=train)
online = ap.fit_online(offline.run_dir, args.online_steps, run_dir=f"{args.out}/parl-online")
print("offline", ap.evaluate_agent(offline, 5)["success"], "-> online", ap.evaluate_agent(online, 5)["success"])

# hybrid: a BC policy, then RLPD + PA-RL online with 50/50 offline/online batches
bc = ap.fit(ap.BCConfig(policy="diffusion", hidden=(64, 64)), "toy:nav", steps=args.steps,
            run_dir=f"{args.out}/bc", train=train)
hybrid = ap.fit_online(bc.run_dir, args.online_steps, run_dir=f"{args.out}/hybrid", recipe="parl-rlpd",
                       critic_hidden=(64, 64), ensemble=2, samples=8, keep=4, local_steps=2, updates_per_step=1)
print("hybrid", ap.evaluate_agent(hybrid, 5)["success"])
