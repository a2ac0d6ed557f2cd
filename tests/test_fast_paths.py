"""The fast paths against plain reference implementations on small batches (equality of numbers, not
timings): the fused Q ensemble with its split first layer against one ordinary MLP per head over the
concatenated input, and a whole IQL update (fused ensemble, fused Adam, foreach Polyak) against the same
update written plainly (a loop over heads, torch.optim.Adam without fusion, a loop for the targets)."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from anypolicy.agents.iql import IQL, IQLConfig


def plain_heads(ensemble_mlp) -> list[nn.Sequential]:
    """One nn.Sequential per member, with the member's weights: Linear over cat(inputs) -> LN -> GELU ...
    (Linear -> GELU -> LN ... where the ensemble puts its LayerNorm after the activation, as FQL's MLP)."""
    heads = []
    for e in range(ensemble_mlp.ensemble):
        w = torch.cat([layer.weight[e] for layer in ensemble_mlp.first], 0)  # [sum(in), h]
        layers = [nn.Linear(w.shape[0], w.shape[1])]
        with torch.no_grad():
            layers[0].weight.copy_(w.T)
            layers[0].bias.copy_(sum(layer.bias[e, 0] for layer in ensemble_mlp.first))
        for norm, hidden in zip(ensemble_mlp.norms, list(ensemble_mlp.hidden) + [ensemble_mlp.out]):
            ln = nn.LayerNorm(w.shape[1])
            with torch.no_grad():
                ln.weight.copy_(norm.weight[e, 0])
                ln.bias.copy_(norm.bias[e, 0])
            lin = nn.Linear(hidden.weight.shape[1], hidden.weight.shape[2])
            with torch.no_grad():
                lin.weight.copy_(hidden.weight[e].T)
                lin.bias.copy_(hidden.bias[e, 0])
            layers += [nn.GELU(), ln, lin] if ensemble_mlp.norm_after_activation else [ln, nn.GELU(), lin]
        heads.append(nn.Sequential(*layers))
    return heads


def batch(gen, n=64, obs=5, act=2):
    return {"observations": torch.randn(n, obs, generator=gen), "next_observations": torch.randn(n, obs, generator=gen),
            "actions": torch.rand(n, act, generator=gen) * 2 - 1, "rewards": torch.randn(n, generator=gen),
            "masks": (torch.rand(n, generator=gen) > 0.1).float()}


def test_fused_ensemble_equals_one_plain_mlp_per_head():
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(32, 32)), 5, 2, -np.ones(2), np.ones(2))
    b = batch(torch.Generator().manual_seed(1))
    fused = agent.q(b["observations"], b["actions"])
    plain = torch.stack([h(torch.cat([b["observations"], b["actions"]], -1))[:, 0] for h in plain_heads(agent.q.net)])
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)
    # many actions per state: the state path computed once and broadcast
    many = torch.rand(64, 7, 2) * 2 - 1
    fused = agent.q(b["observations"], many)
    rep = torch.cat([b["observations"].unsqueeze(1).expand(-1, 7, -1), many], -1)
    plain = torch.stack([h(rep)[..., 0] for h in plain_heads(agent.q.net)])
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)


def test_iql_updates_equal_a_plain_reference_implementation():
    torch.manual_seed(0)
    cfg = IQLConfig(hidden=(32, 32))
    agent = IQL(cfg, 5, 2, -np.ones(2), np.ones(2))
    q_heads, q_targets = plain_heads(agent.q.net), plain_heads(agent.q_target.net)
    v_net = plain_heads(agent.v.net)[0]
    policy = copy.deepcopy(agent.policy)
    params = [p for h in q_heads for p in h.parameters()] + list(v_net.parameters()) + list(policy.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, foreach=False, fused=False)
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        b = batch(gen)
        agent.update(b)
        s, a, s2 = b["observations"], b["actions"], b["next_observations"]
        sa = torch.cat([s, a], -1)
        with torch.no_grad():
            q_t = torch.stack([h(sa)[:, 0] for h in q_targets]).min(0).values
            v_next = v_net(s2)[:, 0]
        v = v_net(s)[:, 0]
        diff = q_t - v
        v_loss = (torch.where(diff > 0, cfg.expectile, 1 - cfg.expectile) * diff ** 2).mean()
        target = b["rewards"] + cfg.discount * b["masks"] * v_next
        q_loss = sum(((h(sa)[:, 0] - target) ** 2).mean() for h in q_heads)
        q_online = torch.stack([h(sa)[:, 0] for h in q_heads]).min(0).values.detach()  # FQL: the online critic
        weights = torch.exp(cfg.beta * (q_online - v.detach())).clamp(max=cfg.max_weight)
        pi_loss = (-policy.log_prob(s, a) * weights).mean()
        opt.zero_grad()
        (v_loss + q_loss + pi_loss).backward()
        opt.step()
        with torch.no_grad():
            for h, t in zip(q_heads, q_targets):
                for p, pt in zip(h.parameters(), t.parameters()):
                    pt.mul_(1 - cfg.target_tau).add_(cfg.target_tau * p)
    for mine, ref in ((agent.q.net, q_heads), (agent.q_target.net, q_targets), (agent.v.net, [v_net])):
        for fused_head, plain in zip(plain_heads(mine), ref):
            for p, r in zip(fused_head.parameters(), plain.parameters()):
                torch.testing.assert_close(p, r, atol=2e-5, rtol=1e-4)
    for p, r in zip(agent.policy.parameters(), policy.parameters()):
        torch.testing.assert_close(p, r, atol=2e-5, rtol=1e-4)


def test_bf16_update_stays_close_to_fp32_and_bad_precision_is_refused():
    """precision=bf16 runs the same update with bfloat16 matrix products: losses and the weights after a
    few updates agree with fp32 to bf16's precision (3 significant digits), not exactly."""

    from anypolicy.config import ConfigError
    from anypolicy.train.loop import make_configs, with_precision

    torch.manual_seed(0)
    fp32 = IQL(IQLConfig(hidden=(64, 64), critic_hidden=(64, 64)), 5, 2, -np.ones(2), np.ones(2))
    bf16 = copy.deepcopy(fp32)  # its optimizer holds its own copies of the parameters
    start = [p.detach().clone() for p in bf16.parameters()]
    updates = {"fp32": fp32.update, "bf16": with_precision(bf16.update, "bf16", torch.device("cpu"))}
    for i in range(5):
        b = batch(torch.Generator().manual_seed(i))
        torch.manual_seed(i)
        m32 = updates["fp32"](b)
        torch.manual_seed(i)
        m16 = updates["bf16"](b)
        for k in m32:  # the advantage is a difference of Q and V (about 1 here): bf16's error of each, not of it
            atol = 2e-2 if k == "adv_mean" else 5e-3
            assert torch.allclose(m16[k].float(), m32[k], rtol=5e-2, atol=atol), (k, m16[k], m32[k])
    drift = max((a - b).abs().max().item() for a, b in zip(fp32.parameters(), bf16.parameters()))
    moved = max((a - b).abs().max().item() for a, b in zip(start, bf16.parameters()))
    # bf16 trained its own weights, which moved 1.5e-3 (5 Adam steps) and differ from fp32's by less than
    # half that: Adam's normalized steps amplify bf16's rounding where gradients are near zero
    assert 0 < drift < 1e-2 and moved > 2 * drift
    with pytest.raises(ConfigError, match="precision"):
        make_configs("iql", {"precision": "fp8"})


def test_precision_auto_follows_the_hardware_and_is_recorded(tmp_path, monkeypatch):
    """auto: bf16 only where the CPU multiplies bfloat16 natively (emulated bf16 is slower than fp32), resolved
    once before the run directory exists, written to config.json with the machine, kept on resume."""
    import json

    from anypolicy import hardware
    from anypolicy.train.loop import make_configs, resume, train

    monkeypatch.delenv("ANYPOLICY_NATIVE_BF16")  # conftest pins it for the other tests
    cpu = torch.device("cpu")
    for flags, expected in ((["avx2", "avx512f"], "fp32"), (["avx512f", "avx512_bf16"], "bf16"),
                            (["amx_bf16"], "bf16"), ([], "fp32")):
        monkeypatch.setattr(hardware, "cpu_info", lambda flags=flags: {"model": "x", "flags": flags,
                                                                       "torch_capability": "AVX2"})
        assert hardware.resolve_precision("auto", cpu) == expected, flags
        assert make_configs("iql", {})[0].precision == expected  # the default is auto
        assert make_configs("iql", {"precision": "fp32"})[0].precision == "fp32"  # an explicit choice stays
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"model": "x", "flags": ["avx512_bf16"], "torch_capability": "AVX512"})
    run = train("bc", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "run", stop_after=10,
                overrides=["hidden=16,16", "eval_every=0", "eval_episodes=1", "checkpoint_every=10",
                           "progress=false", "tensorboard=false"])
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["precision"] == "bf16" and config["machine"]["native_bf16"] is True
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"model": "y", "flags": [], "torch_capability": "AVX2"})
    monkeypatch.setenv("ANYPOLICY_NATIVE_BF16", "0")  # and the override says no as well
    assert hardware.resolve_precision("auto", cpu) == "fp32"
    resume(run)  # on a machine without bf16 the run goes on as it started
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"
    assert json.loads((run / "summary.json").read_text())["steps"] == 20


def test_compile_auto_times_both_updates_on_long_cpu_runs_and_keeps_the_faster(tmp_path, monkeypatch):
    """compile=auto (the default): eager for short runs, unfused recipes, no C++ compiler or a GPU (its CUDA
    graph); otherwise the run times the eager and the compiled update on a copy of its agent, keeps the faster
    (by a 5% margin), writes the choice to config.json and trains exactly as that choice given explicitly."""
    import json

    from anypolicy import hardware
    from anypolicy.train import autocompile
    from anypolicy.train.checkpoint import latest_checkpoint, load_checkpoint
    from anypolicy.train.loop import make_configs, resume, train

    monkeypatch.setattr(hardware, "cxx_compiler", lambda: "g++")
    assert make_configs("iql", {}, steps=100_000)[0].compile is None  # measured at the run's start
    assert make_configs("iql", {"compile": "auto"}, steps=100_000)[0].compile is None
    assert make_configs("iql", {}, steps=2_000)[0].compile is False  # the warm-up would not be repaid
    assert make_configs("bc", {}, steps=100_000)[0].compile is False  # no fused steps
    assert make_configs("iql", {"compile": "false"}, steps=100_000)[0].compile is False
    assert make_configs("bc", {"compile": "true"}, steps=20)[0].compile is True
    assert hardware.resolve_compile(None, torch.device("cuda"), True, 100_000) is False
    monkeypatch.setattr(hardware, "cxx_compiler", lambda: None)  # inductor cannot build CPU kernels
    assert make_configs("iql", {}, steps=100_000)[0].compile is False

    class Sampler:
        def sample(self, n, generator):
            return batch(generator, n)

    for compiled, expected in ((104.0, False), (106.0, True)):  # the choice follows the rates, with a margin
        monkeypatch.setattr(autocompile, "measure", lambda agent, batches, rounds=3, c=compiled:
                            {"eager_updates_per_s": 100.0, "compiled_updates_per_s": c})
        run = tmp_path / f"probe{compiled}"
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"train": {"compile": None}}))
        assert autocompile.choose_compile(run, None, Sampler(), 4, torch.device("cpu")) is expected
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["compile"] is expected and config["compile_auto"]["compiled_updates_per_s"] == compiled

    # a run measures at its start, records the choice, resumes with it and trains as the explicit choice does
    common = ["hidden=16,16", "eval_every=0", "eval_episodes=1", "progress=false", "tensorboard=false",
              "checkpoint_every=10"]
    monkeypatch.setattr(hardware, "COMPILE_MIN_STEPS", 10)
    monkeypatch.setattr(hardware, "cxx_compiler", lambda: "g++")
    monkeypatch.setattr(autocompile, "measure", lambda agent, batches, rounds=3:
                        {"eager_updates_per_s": 100.0, "compiled_updates_per_s": 90.0})
    auto = train("iql", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "auto", stop_after=10, overrides=common)
    assert json.loads((auto / "config.json").read_text())["train"]["compile"] is False
    monkeypatch.setattr(autocompile, "measure", None)  # a resumed run does not time again
    resume(auto)
    explicit = train("iql", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "eager", overrides=common + ["compile=false"])
    a, b = (load_checkpoint(latest_checkpoint(r), torch.device("cpu"))[0] for r in (auto, explicit))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow  # compiles an IQL agent (15 s here): the second tier
def test_compile_auto_probe_times_a_copy_and_leaves_the_agent_untouched():
    from anypolicy.train import autocompile

    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(16, 16)), 5, 2, -np.ones(2), np.ones(2))
    before = copy.deepcopy(agent.state_dict())
    rates = autocompile.measure(agent, [batch(torch.Generator().manual_seed(i)) for i in range(3)], rounds=1)
    assert rates["eager_updates_per_s"] > 0 and rates["compiled_updates_per_s"] > 0
    assert agent.fused_steps is None and all(torch.equal(v, before[k]) for k, v in agent.state_dict().items())
    assert not any(opt.state for opt in agent.optimizers().values())


def test_td3bc_actor_step_on_one_head_with_own_gradients_equals_the_plain_step():
    """The actor step computes only the first Q head and only the policy's gradients; the plain step computes
    every head, takes the first, and backpropagates into everything."""
    from anypolicy.agents.td3bc import TD3BC, TD3BCConfig

    torch.manual_seed(0)
    fast = TD3BC(TD3BCConfig(hidden=(32, 32), critic_hidden=(32, 32)), 5, 2, -np.ones(2), np.ones(2))
    plain = copy.deepcopy(fast)
    b = batch(torch.Generator().manual_seed(3))
    fast.actor_step(b)
    obs = plain.normalize(b["observations"])
    pi = plain.policy.sample(obs, 1)[:, 0]
    q = plain.q(obs, pi)[0]
    loss = -plain.cfg.alpha / q.abs().mean().detach() * q.mean() + (pi - b["actions"]).pow(2).mean()
    plain.policy_opt.zero_grad()
    loss.backward()
    plain.policy_opt.step()
    for (name, p_fast), p_plain in zip(fast.policy.named_parameters(), plain.policy.parameters()):
        torch.testing.assert_close(p_fast, p_plain, atol=1e-6, rtol=1e-5, msg=name)
    assert all(p.grad is None for p in fast.q.parameters())  # no critic weight gradients were computed
    torch.testing.assert_close(fast.q(obs, pi, heads=1)[0], fast.q(obs, pi)[0])


@pytest.mark.slow  # compiling seven agents (about 3 minutes): the second tier
def test_compiled_losses_give_the_eager_updates():
    """compile=true makes each optimizer step of these recipes one graph (loss, gradients by torch.func, Adam
    on the optimizer's own state; with the multiply-and-sum output layer that only compiled code uses): a few
    TD3+BC updates (both phases of the policy delay), Cal-QL, IQL, FQL, ReBRAC (critic-only and full) and FB (its
    representation step, TD3-style and in-sample actors) updates give the eager path's weights and
    Adam moments, and an eager step continues from the fused ones' state."""
    import torch._inductor.config as inductor_config

    from anypolicy.agents.calql import CalQL, CalQLConfig
    from anypolicy.agents.fql import FQL, FQLConfig
    from anypolicy.agents.rebrac import ReBRAC, ReBRACConfig
    from anypolicy.agents.td3bc import TD3BC, TD3BCConfig
    from anypolicy.bfm.fb import FB, FBConfig

    for cls, cfg in ((TD3BC, TD3BCConfig(hidden=(32, 32), critic_hidden=(32, 32))),
                     (CalQL, CalQLConfig(hidden=(32, 32), critic_hidden=(32, 32), cql_actions=3)),
                     (IQL, IQLConfig(hidden=(32, 32))), (FQL, FQLConfig(hidden=(32, 32), flow_steps=3)),
                     (ReBRAC, ReBRACConfig(hidden=(32, 32), alpha_actor=0.5, alpha_critic=0.1)),
                     *((FB, FBConfig(z_dim=8, f_hidden=(32, 32), b_hidden=(32, 32), hidden=(32, 32), actor=actor))
                       for actor in ("td3bc", "awr"))):
        torch._dynamo.reset()  # earlier agents' steps would count towards dynamo's recompile limit (then: eager)
        torch.manual_seed(0)
        eager = cls(cfg, 5, 2, -np.ones(2), np.ones(2))
        compiled = copy.deepcopy(eager)
        update = compiled.compiled_update()
        gen = torch.Generator().manual_seed(4)
        with inductor_config.patch(fallback_random=True):  # the eager random streams inside compiled code
            for i in range(3):
                b = {**batch(gen), "mc_returns": torch.randn(64, generator=gen),
                     "next_actions": torch.rand(64, 2, generator=gen) * 2 - 1}
                torch.manual_seed(i)
                eager.update(b)
                torch.manual_seed(i)
                update(b)
        for (name, p), r in zip(compiled.named_parameters(), eager.parameters()):
            torch.testing.assert_close(p, r, atol=1e-5, rtol=1e-4, msg=f"{cls.__name__} {name}")
        for name, opt in eager.optimizers().items():
            for p, r in zip(compiled.optimizers()[name].state.values(), opt.state.values()):
                for key in ("step", "exp_avg", "exp_avg_sq"):
                    torch.testing.assert_close(p[key], r[key], atol=1e-5, rtol=1e-4, msg=f"{name} {key}")


def test_thin_layers_equal_their_batched_matrix_products():
    """The ensemble's fast paths: one matmul over concatenated inputs (one action per state) and the
    multiply-and-sum output layer give what the per-input products and baddbmm give."""
    from anypolicy.nets.mlp import EnsembleLinear, EnsembleMLP

    torch.manual_seed(0)
    net = EnsembleMLP(3, (6, 2), (16, 16), 1, layer_norm=False, activation="relu")
    s, a = torch.randn(10, 6), torch.randn(10, 2)
    torch.testing.assert_close(net.first_layer(s, a), net.broadcast_first_layer(s, a), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(net.first_layer(s, a, members=2), net.broadcast_first_layer(s, a, members=2))
    out = EnsembleLinear(3, 16, 1)
    h = torch.randn(3, 10, 16)
    torch.testing.assert_close(out(h), torch.baddbmm(out.bias, h, out.weight), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out(h[:2], members=2), torch.baddbmm(out.bias[:2], h[:2], out.weight[:2]))
