"""PA-RL's building blocks against independent computations: action optimization, HL-Gauss, CQL / Cal-QL."""
import math

import numpy as np
import pytest
import torch

from anypolicy.config import ConfigError
from anypolicy.critics.losses import cql_gap, hl_gauss_probs
from anypolicy.critics.q import QEnsemble
from anypolicy.agents.parl import PARLCalQL, PARLCalQLConfig
from anypolicy.improve import (ActionOptimization, Candidates, cem_search, distillation_targets, global_opt, local_opt,
                               select)


def first_failure_local_opt(*args, **kw):
    return local_opt(*args, **kw, rule="first-failure")
from anypolicy.policies.gaussian import TanhGaussianPolicy

LOW, HIGH = torch.tensor([-1.0, -0.5, 0.0]), torch.tensor([1.0, 0.5, 2.0])


class FixedSampler(torch.nn.Module):
    """A 'policy' whose samples are given: the candidates global optimization must rank."""

    def __init__(self, actions):
        super().__init__()
        self.actions = actions

    def sample(self, obs, n):
        assert n == self.actions.shape[1]
        return self.actions


def test_global_opt_returns_the_true_top_m():
    torch.manual_seed(0)
    best = torch.tensor([0.3, -0.2, 1.5])
    q_fn = lambda obs, a: -((a - best - obs[:, None, :1]) ** 2).sum(-1)  # noqa: E731  maximizer known
    obs = torch.randn(6, 4)
    actions = LOW + (HIGH - LOW) * torch.rand(6, 20, 3)
    out = global_opt(obs, FixedSampler(actions), q_fn, samples=20, keep=5)
    for i in range(6):  # independent check: sort each state's candidates by their distance to the maximizer
        dist = ((actions[i] - best - obs[i, :1]) ** 2).sum(-1).numpy()
        expected = actions[i][np.argsort(dist)[:5]]
        assert torch.allclose(out.actions[i], expected)
        assert torch.allclose(out.q[i], -torch.tensor(np.sort(dist)[:5]), atol=1e-5)


@pytest.mark.parametrize("walk", [local_opt, first_failure_local_opt])
def test_local_opt_never_lowers_q_nor_leaves_the_bounds(walk):
    torch.manual_seed(0)
    critic = QEnsemble(4, 3, hidden=(32, 32), ensemble=3)
    q_fn = lambda obs, a: critic(obs, a).mean(0)  # noqa: E731
    obs = torch.randn(16, 4)
    start = LOW + (HIGH - LOW) * torch.rand(16, 5, 3)
    q0 = q_fn(obs, start).detach()
    for step_size in (1e-3, 0.1, 10.0):  # a huge step must not lower Q (best iterate / refused), and is clipped
        out = walk(obs, Candidates(start, q0), q_fn, steps=10, step_size=step_size, low=LOW, high=HIGH)
        q1 = q_fn(obs, out.actions).detach()
        assert torch.allclose(q1, out.q, atol=1e-5)
        assert (q1 >= q0 - 1e-6).all()
        assert ((out.actions >= LOW) & (out.actions <= HIGH)).all()
        assert (q1 > q0 + 1e-6).float().mean() > 0.5  # and it does improve most candidates


def test_best_of_t_reaches_at_least_the_q_of_stopping_at_the_first_failure():
    """Q(a) = -(a - 1)^2 - exp(-((a - 0.5) / 0.03)^2): maximizer a = 1, a narrow valley on the way from 0.
    With alpha = 0.15 the third iterate lands in the valley: stopping there leaves a at 0.3 (Q -0.49) for
    good; walking on, the valley's slope throws a past the maximizer, to the bound, and the steps come back
    down to about 1. Both stay in the bounds; on any critic best-of-T is never below (the same walk until
    the first failure, after which the other stays put)."""
    low, high = torch.tensor([-1.0]), torch.tensor([2.0])
    q_fn = lambda obs, a: (-(a - 1) ** 2 - torch.exp(-((a - 0.5) / 0.03) ** 2)).sum(-1)  # noqa: E731
    start = torch.zeros(1, 1, 1)
    cands = Candidates(start, q_fn(None, start))
    best = local_opt(torch.zeros(1, 1), cands, q_fn, 10, 0.15, low, high)
    stuck = first_failure_local_opt(torch.zeros(1, 1), cands, q_fn, 10, 0.15, low, high)
    assert float(stuck.actions) == pytest.approx(0.3, abs=1e-5) and float(stuck.q) == pytest.approx(-0.49, abs=1e-3)
    assert abs(float(best.actions) - 1.0) < 0.1 and float(best.q) > -0.01
    torch.manual_seed(1)  # random critics: per candidate, best-of-T >= first failure, both in the bounds
    critic = QEnsemble(4, 3, hidden=(32, 32), ensemble=2)
    q_mlp = lambda obs, a: critic(obs, a).mean(0)  # noqa: E731
    obs, start = torch.randn(32, 4), LOW + (HIGH - LOW) * torch.rand(32, 4, 3)
    cands = Candidates(start, q_mlp(obs, start).detach())
    for step_size in (0.01, 0.3, 3.0):
        a = local_opt(obs, cands, q_mlp, 10, step_size, LOW, HIGH)
        b = first_failure_local_opt(obs, cands, q_mlp, 10, step_size, LOW, HIGH)
        assert (a.q >= b.q - 1e-6).all()
        for out in (a, b):
            assert ((out.actions >= LOW) & (out.actions <= HIGH)).all()


def test_local_opt_climbs_a_concave_critic_towards_its_maximizer():
    best = torch.tensor([0.3, -0.2, 1.5])
    q_fn = lambda obs, a: -((a - best) ** 2).sum(-1)  # noqa: E731
    start = torch.zeros(2, 4, 3)
    out = local_opt(torch.zeros(2, 1), Candidates(start, q_fn(None, start)), q_fn, 50, 0.1, LOW, HIGH)
    assert torch.allclose(out.actions, best.expand(2, 4, 3), atol=1e-2)


def test_data_action_joins_the_candidates_and_selection_rules():
    torch.manual_seed(0)
    q_fn = lambda obs, a: -(a ** 2).sum(-1)  # noqa: E731  best action: 0
    actions = 0.5 + 0.1 * torch.rand(3, 8, 3)
    data = torch.zeros(3, 3)
    out = ActionOptimization(samples=8, keep=3, local_steps=0)(torch.zeros(3, 1), FixedSampler(actions), q_fn,
                                                               LOW, HIGH, data_actions=data)
    # the dataset action takes the place of the lowest of the top 3 (the reference code): still 3 candidates
    top = global_opt(torch.zeros(3, 1), FixedSampler(actions), q_fn, 8, 3)
    assert out.actions.shape == (3, 3, 3) and torch.equal(select(out), data)
    assert torch.equal(out.actions[:, :2], top.actions[:, :2]) and torch.equal(out.actions[:, 2], data)
    added = ActionOptimization(samples=8, keep=3, local_steps=0, data_action_replaces=False)(
        torch.zeros(3, 1), FixedSampler(actions), q_fn, LOW, HIGH, data_actions=data)
    assert added.actions.shape == (3, 4, 3) and torch.equal(added.actions[:, :3], top.actions)
    targets, weights = distillation_targets(out, "all", temperature=1.0)
    assert targets.shape == (3, 3, 3) and torch.allclose(weights.sum(-1), torch.full((3,), 3.0))
    drawn, none = distillation_targets(out, "sample", temperature=1e-4)
    assert none is None and torch.equal(drawn, data)
    cold = torch.stack([select(out, "sample", temperature=1e-4) for _ in range(5)])
    assert torch.equal(cold, data.expand(5, 3, 3))  # a cold softmax is the argmax


def test_hl_gauss_targets_sum_to_one_and_recover_the_value():
    values = torch.tensor([-87.3, -50.0, -12.25, -3.0])
    probs = hl_gauss_probs(values, -100.0, 0.0, bins=101)
    centres = torch.linspace(-100, 0, 2 * 101 + 1)[1::2]
    assert torch.allclose(probs.sum(-1), torch.ones(4), atol=1e-6)
    assert torch.allclose(probs @ centres, values, atol=0.05)


def test_distributional_critic_fits_a_target_value():
    torch.manual_seed(0)
    critic = QEnsemble(2, 1, hidden=(32,), ensemble=2, bins=51, v_min=-10, v_max=0)
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    obs, act = torch.randn(64, 2), torch.randn(64, 1)
    target = -5 + obs[:, 0]  # depends on the state
    for _ in range(400):
        loss, _ = critic.td_loss(obs, act, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (critic(obs, act) - target).abs().mean() < 0.2


def test_cql_and_calql_regularizer_match_a_hand_computation():
    q_data = torch.tensor([[1.0, -2.0]])  # one head, two states
    q_random = torch.tensor([[[0.5, 2.0], [-3.0, -1.0]]])
    q_policy = torch.tensor([[[1.5], [-4.0]]])
    mc = torch.tensor([0.0, -2.5])
    # non-importance-sampled: logsumexp over random, policy and data actions, minus the data Q
    s0 = math.log(math.exp(0.5) + math.exp(2.0) + math.exp(1.5) + math.exp(1.0)) - 1.0
    s1 = math.log(math.exp(-3.0) + math.exp(-1.0) + math.exp(-4.0) + math.exp(-2.0)) + 2.0
    assert torch.allclose(cql_gap(q_data, q_random, q_policy), torch.tensor([(s0 + s1) / 2]))
    # Cal-QL: the policy action's Q is raised to the MC return where below it (state 1: -4 -> -2.5)
    c1 = math.log(math.exp(-3.0) + math.exp(-1.0) + math.exp(-2.5) + math.exp(-2.0)) + 2.0
    assert torch.allclose(cql_gap(q_data, q_random, q_policy, lower_bound=mc), torch.tensor([(s0 + c1) / 2]))
    # importance-sampled, temperature 2: subtract the log densities, no data action
    logp = torch.tensor([[0.3], [-0.7]])
    lu = -math.log(4.0)
    i0 = 2 * math.log(math.exp((0.5 - lu) / 2) + math.exp((2.0 - lu) / 2) + math.exp((1.5 - 0.3) / 2)) - 1.0
    i1 = 2 * math.log(math.exp((-3.0 - lu) / 2) + math.exp((-1.0 - lu) / 2) + math.exp((-2.5 + 0.7) / 2)) + 2.0
    got = cql_gap(q_data, q_random, q_policy, logp, lu, lower_bound=mc, temperature=2.0)
    assert torch.allclose(got, torch.tensor([(i0 + i1) / 2]))


def test_the_regularizer_on_the_first_states_is_the_same_gap_on_those_states():
    from anypolicy.critics.losses import conservative_td_loss
    from anypolicy.critics.q import QEnsemble

    torch.manual_seed(0)
    q = QEnsemble(4, 3, (16, 16), ensemble=2)
    obs, act, target = torch.randn(12, 4), torch.rand(12, 3) * 2 - 1, torch.randn(12)
    ood, logp, mc = torch.rand(12, 6, 3) * 2 - 1, torch.randn(12, 6), torch.randn(12)
    args = (LOW[:3], HIGH[:3], 2.0, 4)
    torch.manual_seed(1)
    sub, m_sub = conservative_td_loss(q, obs, act, target, ood[:5], *args, logp[:5], mc, states=5)
    torch.manual_seed(1)  # the same uniform draws, on a batch of those five states only
    five, m_five = conservative_td_loss(q, obs[:5], act[:5], target[:5], ood[:5], *args, logp[:5], mc[:5])
    td_all, td_five = m_sub["td_loss"], m_five["td_loss"]
    assert torch.allclose(sub - td_all, five - td_five) and torch.allclose(m_sub["cql_gap"], m_five["cql_gap"])
    torch.manual_seed(1)
    full, _ = conservative_td_loss(q, obs, act, target, ood, *args, logp, mc)
    assert not torch.allclose(full, sub)  # the states beyond the fifth changed nothing above, and do count here


def test_gaussian_sample_log_prob_matches_the_density():
    torch.manual_seed(0)
    policy = TanhGaussianPolicy(4, 3, LOW, HIGH, hidden=(16,))
    obs = torch.randn(5, 4)
    actions, logp = policy.sample_with_log_prob(obs, 2)
    for j in range(2):
        assert torch.allclose(logp[:, j], policy.log_prob(obs, actions[:, j]), atol=1e-3)


def test_reparameterized_recipes_refuse_policies_without_a_density():
    from anypolicy.agents.calql import CalQL, CalQLConfig

    with pytest.raises(ConfigError, match="use parl-calql"):
        CalQL(CalQLConfig(policy="diffusion", hidden=None), 4, 3, LOW.numpy(), HIGH.numpy())


def test_cem_finds_the_maximizer_from_random_and_from_policy_starts():
    torch.manual_seed(0)
    best = torch.tensor([0.3, -0.2, 1.5])
    q_fn = lambda obs, a: -((a - best) ** 2).sum(-1)  # noqa: E731
    obs = torch.zeros(32, 1)
    found = cem_search(obs, q_fn, LOW, HIGH, iterations=8, population=64, elites=6)
    budget = LOW + (HIGH - LOW) * torch.rand(32, 8 * 64, 3)  # random search with the same number of Q calls
    random_best = q_fn(obs, budget).max(-1).values
    assert (q_fn(obs, found.unsqueeze(1))[:, 0] > random_best).float().mean() > 0.9
    assert ((found - best).abs().max(-1).values < 0.05).float().mean() > 0.9  # CEM may stall early on a few
    near = best + 0.05 * torch.randn(32, 16, 3)  # a policy whose samples surround the maximizer
    from_policy = cem_search(obs, q_fn, LOW, HIGH, near, iterations=3)
    assert ((from_policy - best).abs().max(-1).values < 0.02).float().mean() > 0.9
    assert ((found >= LOW) & (found <= HIGH)).all()


def small_parl(**sets):
    from anypolicy.config import override

    cfg, _ = override(PARLCalQLConfig(), {"hidden": "16,16", "critic_hidden": "16,16", "ensemble": "2", "samples": "4",
                                          "keep": "2", "local_steps": "1", "bc_steps": "0", "offline_distill": "true",
                                          **sets})
    return PARLCalQL(cfg, 4, 3, LOW.numpy(), HIGH.numpy())


def toy_batch(data, idx):
    return {**{k: v[idx] for k, v in data.items()}, "indices": idx, "rewards": torch.zeros(len(idx)),
            "masks": torch.ones(len(idx)), "mc_returns": torch.zeros(len(idx))}


def test_action_cache_serves_the_samples_and_refreshes_from_the_distilled_policy(monkeypatch):
    torch.manual_seed(0)
    agent = small_parl(action_cache="3")
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    agent.before_update(1, data)
    cached = agent.action_cache["observations"]
    assert cached.shape == (50, 4, 3) and ((cached >= LOW) & (cached <= HIGH)).all()
    def no_sampling(*args):
        raise AssertionError("the policy was sampled although the cache holds these states")
    monkeypatch.setattr(agent.policy, "sample", no_sampling)
    for step in (1, 2, 3):
        agent.before_update(step, data)
        agent.update(toy_batch(data, torch.randint(50, (8,))))
    monkeypatch.undo()
    agent.before_update(4, data)  # a new round: the snapshot is the distilled policy, the samples are new
    assert int(agent.cache_round) == 1
    for k, v in agent.policy.state_dict().items():
        assert torch.equal(agent.cache_policy.state_dict()[k], v), k
    assert not torch.equal(agent.action_cache["observations"], cached)


def test_critic_pre_training_keeps_the_policy_and_draws_its_samples_once(monkeypatch):
    """Stage 2 of the staged pipeline: the base policy's k samples of every dataset state are drawn once,
    when the stage starts; no update samples the policy again, and none changes its weights."""
    from anypolicy.config import override

    cfg, _ = override(PARLCalQLConfig(), {"hidden": "16,16", "critic_hidden": "16,16", "ensemble": "2",
                                          "samples": "4", "keep": "2", "local_steps": "1", "bc_steps": "2"})
    torch.manual_seed(0)
    agent = PARLCalQL(cfg, 4, 3, LOW.numpy(), HIGH.numpy())
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    calls = []
    sample = agent.policy.sample
    monkeypatch.setattr(agent.policy, "sample", lambda obs, n: calls.append(len(obs)) or sample(obs, n))
    for step in (1, 2):  # BC: the policy learns, nothing is sampled
        agent.before_update(step, data)
        agent.update(toy_batch(data, torch.randint(50, (8,))))
    assert calls == [] and int(agent.stage) == 0
    frozen = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    q0 = {k: v.clone() for k, v in agent.q.state_dict().items()}
    for step in range(3, 9):
        agent.before_update(step, data)
        agent.update(toy_batch(data, torch.randint(50, (8,))))
    assert calls == [50, 50] and int(agent.stage) == 1  # observations and next observations, once
    assert all(torch.equal(frozen[k], v) for k, v in agent.policy.state_dict().items())
    assert not all(torch.equal(q0[k], v) for k, v in agent.q.state_dict().items())


def test_parl_iql_clones_offline_and_distils_online(monkeypatch):
    """parl-iql's stages: offline its policy loss is BC on the dataset actions (nothing is improved: IQL's
    critic needs no policy samples); online it distils improved actions; a checkpoint keeps the stage, and one
    from before the stages loads as offline."""
    from anypolicy.agents.parl import PARLIQL, PARLIQLConfig
    from anypolicy.config import override

    cfg, _ = override(PARLIQLConfig(), {"hidden": "16,16", "critic_hidden": "16,16", "samples": "4", "keep": "2",
                                        "local_steps": "1"})
    torch.manual_seed(0)
    agent = PARLIQL(cfg, 4, 3, LOW.numpy(), HIGH.numpy())
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    batch = toy_batch(data, torch.arange(8))
    obs = agent.normalize(batch["observations"])
    improved, improve = [], agent.improve
    monkeypatch.setattr(agent, "improve", lambda *a, **k: improved.append(1) or improve(*a, **k))
    torch.manual_seed(1)
    bc = agent.policy.loss(agent.policy_input(obs), batch["actions"])
    torch.manual_seed(1)
    assert torch.equal(agent.extraction_loss(obs, batch, None), bc) and improved == []
    agent.start_online()
    agent.extraction_loss(obs, batch, None)
    assert improved == [1]
    resumed = PARLIQL(cfg, 4, 3, LOW.numpy(), HIGH.numpy())
    resumed.load_state_dict(agent.state_dict())
    assert resumed.online_now
    resumed.load_state_dict({k: v for k, v in agent.state_dict().items() if k != "online"})
    assert not resumed.online_now


def test_critic_pretraining_can_take_fewer_local_steps_than_acting():
    """pretrain_local_steps=0: stage 2's TD-target candidates are the cached samples themselves (re-ranked, not
    moved), while acting keeps its T local steps; online, the updates get the acting setting back."""
    agent = small_parl(offline_distill="false", pretrain_local_steps="0", local_steps="3", step_size="0.1")
    torch.manual_seed(0)
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    agent.before_update(1, data)
    batch = toy_batch(data, torch.arange(8))
    there = agent.improve(agent.normalize(batch["next_observations"]),
                          samples=agent.cached_samples(batch, "next_observations"))
    cached = agent.action_cache["next_observations"][:8]
    assert torch.equal((there.actions.unsqueeze(2) == cached.unsqueeze(1)).all(-1).any(-1),
                       torch.ones(8, 2, dtype=torch.bool))  # every candidate is one of its state's samples
    assert agent.optimize.local_steps == 3 and agent.train_optimize.local_steps == 0
    agent.start_online()
    assert agent.train_optimize is agent.optimize


def test_critic_warm_up_leaves_the_policy_unchanged():
    torch.manual_seed(0)
    agent = small_parl(distill_after="3")
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    policy0 = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    q0 = {k: v.clone() for k, v in agent.q.state_dict().items()}
    for step in (1, 2, 3):
        agent.before_update(step, data)
        agent.update(toy_batch(data, torch.randint(50, (8,))))
    assert all(torch.equal(policy0[k], v) for k, v in agent.policy.state_dict().items())
    assert not all(torch.equal(q0[k], v) for k, v in agent.q.state_dict().items())
    agent.before_update(4, data)
    agent.update(toy_batch(data, torch.randint(50, (8,))))
    assert not all(torch.equal(policy0[k], v) for k, v in agent.policy.state_dict().items())


def test_cheaper_schedules_distill_every_few_updates_and_draw_fewer_candidates_late():
    torch.manual_seed(0)
    agent = small_parl(samples="8", keep="4", local_steps="2", distill_every="3", distill_after="1", late_after="4",
                       late_samples="3", late_local_steps="0", action_cache="100")
    data = {"observations": torch.randn(50, 4), "next_observations": torch.randn(50, 4),
            "actions": LOW + (HIGH - LOW) * torch.rand(50, 3)}
    distilled, candidates = [], []
    for step in range(1, 9):
        agent.before_update(step, data)
        before = [p.clone() for p in agent.policy.parameters()]
        idx = torch.randint(50, (8,))
        candidates.append(agent.improve(data["observations"][idx], samples=agent.cached_samples(
            {"indices": idx}, "observations")).actions.shape[1])
        agent.update(toy_batch(data, idx))
        distilled.append(any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters())))
    assert distilled == [False, True, False, False, True, False, False, True]  # warm-up 1, then every third
    assert candidates == [4] * 4 + [3] * 4  # top 4 of 8 samples, then all 3 of the 3 late samples
    assert agent.train_optimize.local_steps == 0 and agent.optimize.local_steps == 2  # acting keeps the full setting
    assert agent.optimize.samples == 8 and not agent.capturable


@pytest.mark.parametrize("sets, match", [({"distill_every": "0"}, "distill_every must be at least 1"),
                                         ({"late_samples": "64"}, "late_samples .64. must not exceed samples"),
                                         ({"late_local_steps": "-2"}, "late_local_steps must be at least -1")])
def test_bad_schedules_are_refused(sets, match):
    with pytest.raises(ConfigError, match=match):
        small_parl(**sets)


def test_bad_act_search_is_refused():
    with pytest.raises(ConfigError, match="act_search must be one of"):
        PARLCalQLConfig(act_search="cem")



def test_every_registered_operator_acts_inside_the_bounds_and_the_recipes_select_them_by_name():
    """One registry (improve/registry.py) for CFPI's operator, IQL's act_improve and PA-RL's act_search: every
    operator returns one action per state inside the box; a name or a policy an operator cannot use is refused."""
    from anypolicy.agents.cfpi import CFPI, CFPIConfig
    from anypolicy.agents.iql import IQL, IQLConfig
    from anypolicy.improve.registry import OPERATORS, Settings, check_operator, improve_actions
    from anypolicy.policies import make_policy

    torch.manual_seed(0)
    obs = torch.randn(6, 4)
    q = lambda o, a: -((a - 0.3) ** 2).sum(-1)  # noqa: E731  the maximizer (0.3, 0.3, 0.3) lies inside the box
    mixture = make_policy("mixture", 4, 3, LOW.numpy(), HIGH.numpy(), hidden=(16, 16))
    diffusion = make_policy("diffusion", 4, 3, LOW.numpy(), HIGH.numpy(), hidden=(16, 16))
    settings = Settings(samples=8, optimization=ActionOptimization(8, 3, 2, 0.05))
    for name in OPERATORS:
        for policy in (mixture, diffusion):
            try:
                check_operator(name, policy)
            except ConfigError:
                assert policy is diffusion and name in ("sg", "mg", "lse", "jensen", "mg-ms")
                continue
            actions = improve_actions(name, obs, policy, q, LOW, HIGH, settings)
            assert actions.shape == (6, 3) and (actions >= LOW).all() and (actions <= HIGH).all(), name
    with pytest.raises(ConfigError, match="act_search must be one of"):
        PARLCalQLConfig(act_search="simulated-annealing")
    for agent in (IQL(IQLConfig(hidden=(16, 16), act_improve="ebcq"), 4, 3, LOW.numpy(), HIGH.numpy()),
                  CFPI(CFPIConfig(hidden=(16, 16), critic_hidden=(16, 16), operator="cem-policy"), 4, 3,
                       LOW.numpy(), HIGH.numpy()),
                  small_parl(act_search="ebcq")):
        actions = agent.act(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
        assert actions.shape == (5, 3) and (actions >= LOW.numpy()).all() and (actions <= HIGH.numpy()).all()
