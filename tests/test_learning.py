"""Learning on a small problem: IQL must beat behavior cloning on the toy task's mixed-quality data."""
import json

import pytest

from anypolicy.train.loop import train

COMMON = ["hidden=128,128", "lr=1e-3", "eval_every=0", "eval_episodes=50", "log_every=1000", "progress=false",
          "tensorboard=false", "checkpoint_every=100000", "threads=1"]


def final_success(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["final_eval"]["success"]


pytestmark = pytest.mark.slow  # the second tier (make test-slow)


@pytest.fixture(scope="module")
def bc_toy(tmp_path_factory):
    """Gaussian BC on the toy task, 3000 updates at lr 1e-3, seed 0: the baseline of the tests below (14%)."""
    return final_success(train("bc", "toy:nav", steps=3000, seed=0, run_dir=tmp_path_factory.mktemp("bc") / "bc",
                               overrides=COMMON))


def test_iql_beats_behavior_cloning_on_toy_nav(tmp_path, bc_toy):
    bc = bc_toy
    iql = final_success(train("iql", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "iql",
                              overrides=COMMON + ["beta=3"]))
    assert iql >= bc + 25, f"IQL {iql:.0f}% vs BC {bc:.0f}% success"


def test_td3bc_beats_behavior_cloning_on_toy_nav(tmp_path, bc_toy):
    """Measured when written: TD3+BC 38%, BC 14% (3000 updates, seed 0)."""
    common = [c for c in COMMON if not c.startswith("lr")]
    bc = bc_toy
    td3bc = final_success(train("td3bc", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "td3bc",
                                overrides=common + ["critic_hidden=128,128", "critic_lr=1e-3", "policy_lr=1e-3"]))
    assert td3bc >= bc + 15, f"TD3+BC {td3bc:.0f}% vs BC {bc:.0f}% success"


def test_fql_beats_behavior_cloning_on_toy_nav(tmp_path, bc_toy):
    """Measured when written (3000 updates, seed 0, lr 1e-3): FQL 38% with the reference's normalize_q_loss
    option and alpha 0.1, BC 14%. With the reference's defaults (unnormalized Q term, alpha 10) FQL needs a
    converged critic: 2% at 3000 updates (Q still rising towards the task's -60), 96% at 10,000."""
    fql = final_success(train("fql", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "fql",
                              overrides=COMMON + ["normalize_q_loss=true", "alpha=0.1"]))
    assert fql >= bc_toy + 15, f"FQL {fql:.0f}% vs BC {bc_toy:.0f}% success"


def test_rebrac_beats_behavior_cloning_on_toy_nav(tmp_path, bc_toy):
    """Measured when written (3000 updates, seed 0, lr 1e-3): ReBRAC 32% at alpha_actor 0.01 (28% at 0.1, 14% at
    0.3), BC 14%."""
    rebrac = final_success(train("rebrac", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "rebrac",
                                 overrides=COMMON + ["alpha_actor=0.01"]))
    assert rebrac >= bc_toy + 15, f"ReBRAC {rebrac:.0f}% vs BC {bc_toy:.0f}% success"


def test_cfpi_mixture_operator_improves_on_its_behavior_policy_on_toy_nav(tmp_path):
    """One-step CFPI: the same mixture BC policy and SARSA critic, acting by I_MG, by I_SG (one Gaussian
    moment-matched to the mixture) and by the BC policy itself. Measured when written (3000 updates,
    seed 0): I_MG 94%, I_SG 60%, MG-BC 32%, Jensen alone 12%. Raw positions as then: with CFPI's default
    standardized states (the paper's) every operator gains on this easy task (measured: I_MG 100%, I_SG 92%,
    MG-BC 0%), which leaves too little room to tell the operators apart."""
    from anypolicy.train.loop import load_agent, run_eval

    run = train("cfpi-onestep", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "cfpi",
                overrides=[c for c in COMMON if not c.startswith("lr")] + ["critic_hidden=128,128", "critic_lr=1e-3",
                                                                           "policy_lr=1e-3", "normalize_observations=false"])
    agent, tcfg = load_agent(run)
    success = {}
    for operator in ("mg", "sg", "none"):
        agent.cfg.operator = operator
        success[operator] = run_eval(agent, tcfg, 50)["success"]
    assert success["mg"] >= success["none"] + 40 and success["mg"] >= success["sg"] + 20, success


def test_parl_calql_with_diffusion_beats_bc_and_gaussian_calql_on_toy_nav(tmp_path):
    """Same data, seeds and number of updates (1000), seeds 0-2, two runs at a time (one per core). PA-RL runs
    its staged pipeline as the OGBench row does: 500 BC updates of the diffusion policy, then 500 critic updates
    against it, frozen, with no local steps (pretrain_local_steps=0), acting by action optimization (T 10).
    Measured (issue 20): PA-RL 32/12/30%, diffusion BC 0/2/0% (28% after 2000 steps), Cal-QL with a
    tanh-Gaussian 10/0/2%; with T 10 in the critic stage too, PA-RL 30/8/32%. One seed alone is not a test
    here: PA-RL on seed 0 moved from 40% to 30% when the cache's samples were drawn in chunks of 256."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    common = [c for c in COMMON if not c.startswith(("hidden", "lr"))] + ["hidden=64,64"]
    critic = ["critic_hidden=64,64", "ensemble=2", "critic_lr=1e-3"]
    settings = {"bc": common + ["policy=diffusion", "lr=1e-3"], "calql": common + critic + ["policy_lr=1e-3"],
                "parl-calql": common + critic + ["policy_lr=1e-3", "samples=8", "keep=4", "pretrain_local_steps=0"]}
    seeds = (0, 1, 2)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        runs = {(recipe, seed): pool.submit(train, recipe, "toy:nav", steps=1000, seed=seed,
                                            run_dir=tmp_path / f"{recipe}-{seed}", overrides=sets)
                for seed in seeds for recipe, sets in settings.items()}
        success = {key: final_success(run.result()) for key, run in runs.items()}
    mean = {recipe: sum(success[recipe, s] for s in seeds) / len(seeds) for recipe in settings}
    shown = f"{success} means {mean}"
    assert all(success["parl-calql", s] > max(success["bc", s], success["calql", s]) for s in seeds), shown
    assert mean["parl-calql"] >= max(mean["bc"], mean["calql"]) + 15, shown
