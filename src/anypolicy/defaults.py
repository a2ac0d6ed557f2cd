"""Where every default of every recipe comes from. `SOURCES` maps "ConfigClass.field" (the class that
defines or overrides the field) to its source: a paper (section, table, equation), a reference file, the
CPU protocol, or the measurement behind a deviation. Kinds of entry, by their first word:

    paper / reference / protocol   the value as the named source sets it
    measured                       a deviation from the source, with the side-by-side result that keeps it
    option                         an anypolicy switch whose default leaves the paper's method unchanged
    run                            a setting of the run, not of the algorithm (logging, device, sizes of I/O)
    choice                         no source gives a value: anypolicy's own choice, listed as open work

`render()` writes docs/defaults.md from the config dataclasses themselves (values as each recipe resolves
them, per-domain values included), so the page cannot drift from the code; `make test` checks both that
the page is current and that no default lacks an entry.
"""
from __future__ import annotations

import dataclasses
import inspect
import re

FQL = "FQL (Park, Li, Levine 2025)"
FQL_IQL = "reference: seohongpark/fql agents/iql.py"
FQL_REF = "reference: seohongpark/fql agents/fql.py"
REBRAC_REF = "reference: seohongpark/fql agents/rebrac.py"
PARL = "PA-RL (Sobol Mark et al. 2024)"
CALQL = "Cal-QL (Nakamoto et al. 2023)"
THESIS = "CFPI (Zhang 2023, thesis ch. 3)"

SOURCES: dict[str, str] = {
    # ------------------------------------------------------------------ BC
    "BCConfig.policy": "option: tanh-Gaussian BC, the baseline of the FQL and PA-RL tables; any class by --set policy",
    "BCConfig.policy_options": "option: the class's own defaults",
    "BCConfig.hidden": "option: the class's default size (MLP 256x256; diffusion 3 residual blocks of 256, PA-RL's)",
    "BCConfig.lr": f"reference: 3e-4, the learning rate of every network in {FQL}'s code",
    "BCConfig.activation": f"reference: GELU, {FQL}'s MLPs",
    # ------------------------------------------------------------------ IQL (FQL's OGBench reference)
    "IQLConfig.policy": f"{FQL_IQL}: a Gaussian actor with const_std=True, tanh_squash=False (gaussian-fixed)",
    "IQLConfig.policy_options": "option: the class's own defaults (gaussian-fixed: Xavier init, mean layer scale 0.01 as FQL's Actor)",
    "IQLConfig.hidden": f"{FQL_IQL}: actor_hidden_dims = value_hidden_dims = (512, 512, 512, 512); the CPU protocol sets 4x256",
    "IQLConfig.critic_hidden": "option: the same widths as `hidden` (FQL's value_hidden_dims = actor_hidden_dims)",
    "IQLConfig.ensemble": f"{FQL_IQL}: two Q heads, their minimum",
    "IQLConfig.lr": f"{FQL_IQL}: lr 3e-4, one Adam over all networks",
    "IQLConfig.discount": f"{FQL_IQL}: 0.99",
    "IQLConfig.expectile": f"{FQL_IQL}: expectile 0.9 (OGBench manipulation)",
    "IQLConfig.beta": f"{FQL_IQL}: alpha (AWR temperature) 10 by default; per domain as {FQL}'s commands: cube-single 1, "
                      "cube-double 0.3, scene 10, puzzle-3x3 10 (puzzle-4x4: code default 10, no per-task value found)",
    "IQLConfig.max_weight": f"{FQL_IQL}: exp(advantage * alpha) clipped at 100 (IQL, Kostrikov et al. 2022)",
    "IQLConfig.target_tau": f"{FQL_IQL}: tau 0.005",
    "IQLConfig.critic_layer_norm": f"{FQL_IQL}: layer_norm=True for Q and V",
    "IQLConfig.norm_after_activation": "reference: seohongpark/fql utils/networks.py MLP, Dense -> activation -> LayerNorm",
    "IQLConfig.init": "reference: seohongpark/fql utils/networks.py default_init, variance_scaling(1, fan_avg, uniform)",
    "IQLConfig.advantage_critic": f"{FQL_IQL}: the actor's advantage uses the online critic's minimum",
    "IQLConfig.action_refeed": "option: off, as IQL (PA-RL's image critic re-feeds the action)",
    "IQLConfig.activation": "reference: seohongpark/fql utils/networks.py, GELU",
    "IQLConfig.act_improve": "option: off (IQL acts with its policy); sg reproduces the thesis' Table 3.3 experiment",
    "IQLConfig.act_log_tau": f"paper: {THESIS}, log tau 0.5 for the IQL + I_SG experiment (Table 3.3)",
    "IQLConfig.act_lcb_beta": f"paper: {THESIS}, mean - std / sqrt(2), the minimum of two heads in expectation",
    # ------------------------------------------------------------------ Cal-QL / CQL
    "CalQLConfig.policy": f"paper: {CALQL}, tanh-Gaussian actor (SAC-style)",
    "CalQLConfig.policy_options": "option: the class's own defaults",
    "CalQLConfig.hidden": f"reference: {CALQL}'s code (JaxCQL), policy 256x256",
    "CalQLConfig.critic_hidden": f"reference: {CALQL}'s code, Q 256x256 (the CPU protocol sets 4x256)",
    "CalQLConfig.activation": "choice: GELU as the FQL networks (Cal-QL's code: ReLU); not yet measured side by side",
    "CalQLConfig.ensemble": f"paper: {CALQL}, two Q-functions",
    "CalQLConfig.target_heads": f"paper: {CALQL}, the minimum of both targets",
    "CalQLConfig.critic_layer_norm": f"paper: {FQL}, LayerNorm in every critic of its OGBench baselines",
    "CalQLConfig.bins": f"paper: {CALQL}, an MSE critic",
    "CalQLConfig.v_min": "paper: HL-Gauss range (Farebrother et al. 2024) for OGBench's one-subtask rewards, -1 / (1 - 0.99)",
    "CalQLConfig.v_max": "paper: OGBench's rewards are at most 0",
    "CalQLConfig.action_refeed": "option: off (PA-RL's image critic re-feeds the action)",
    "CalQLConfig.critic_lr": f"reference: {CALQL}'s code, 3e-4",
    "CalQLConfig.policy_lr": f"reference: {CALQL}'s code, policy 1e-4",
    "CalQLConfig.discount": f"paper: {CALQL}, 0.99",
    "CalQLConfig.target_tau": f"reference: {CALQL}'s code, soft target update 5e-3",
    "CalQLConfig.cql_alpha": f"paper: {CALQL}, alpha 5 on AntMaze and Kitchen. parl-calql keeps it - measured: "
                             f"{PARL}'s reference critic (alpha 0.005, HL-Gauss 128 bins, regularizer on 2 of 10 heads) "
                             "reached 0% on toy-nav (-1/0 rewards, OGBench's scale; 1000 BC + 1000 critic steps, seed 0) "
                             "where this one reached 50%; the cube-single sweep is open",
    "CalQLConfig.cql_heads": f"paper: {CALQL}, the regularizer on every Q-function (parl-calql: see cql_alpha)",
    "CalQLConfig.cql_actions": f"reference: {CALQL}'s code, cql_n_actions 10",
    "CalQLConfig.cql_states": f"reference: {CALQL}'s code, the regularizer on every state of the batch (N > 0: the CPU protocol's lever, an estimate on N of the batch's uniformly drawn states; docs/results/ogbench-cpu.md)",
    "CalQLConfig.cql_temperature": f"reference: {CALQL}'s code, cql_temp 1",
    "CalQLConfig.actor_q": f"reference: {CALQL}'s code, the policy maximizes min(Q1, Q2)",
    "CalQLConfig.calibrated": f"paper: {CALQL}",
    "CalQLConfig.needs_mc_returns": "run: batches carry the Monte-Carlo returns Cal-QL clips against",
    "CQLConfig.calibrated": "paper: CQL (Kumar et al. 2020) has no calibration",
    "CQLConfig.needs_mc_returns": "run: CQL needs no Monte-Carlo returns",
    # ------------------------------------------------------------------ PA-RL
    "ActionOptConfig.samples": f"paper: {PARL} Appendix B.1, 32 samples",
    "ActionOptConfig.keep": f"paper: {PARL} Appendix B.1, filtered to the top 10",
    "ActionOptConfig.local_steps": f"paper: {PARL} Appendix B.1, ten gradient steps",
    "ActionOptConfig.step_size": f"paper: {PARL} Appendix B.1, step size 3e-4",
    "ActionOptConfig.local_step": f"paper: {PARL} Algorithm 1, gradient steps (cfpi is an option)",
    "ActionOptConfig.cfpi_log_tau": f"paper: {THESIS}, log tau 0.5 (used only with local_step=cfpi)",
    "ActionOptConfig.offline_distill": f"paper: {PARL} section 5 and Algorithm 2 (BC, then critic pre-training, then "
                                       "online fine-tuning with distillation); its reference code distils only online",
    "ActionOptConfig.data_action": f"paper: {PARL} section 5 (the dataset action included in action optimization)",
    "ActionOptConfig.data_action_replaces": f"reference: {PARL}'s code, the dataset action in the place of the lowest-Q candidate",
    "ActionOptConfig.local_rule": f"reference: {PARL}'s code, all T steps and the best iterate per candidate",
    "ActionOptConfig.selection": f"paper: {PARL} Appendix B.1, argmax of pi_Opt (sampling an option)",
    "ActionOptConfig.distill": f"paper: {PARL} Appendix B.1 and Table 5, the argmax (auto: the variance rule)",
    "ActionOptConfig.distill_auto_std": f"choice: {PARL} Appendix B.1 gives the rule (argmax when the Q variance is "
                                        "small) but no threshold; 1.0 is unmeasured and used only with distill=auto",
    "ActionOptConfig.temperature": "choice: softmax temperature 1 (used only by selection=sample, distill=sample|all|auto)",
    "ActionOptConfig.act_optimize": f"paper: {PARL} eq. 4.3, acting with the argmax of the optimized candidates",
    "ActionOptConfig.act_search": f"paper: {PARL}, global + local optimization (CEM is its ablation, section 5.3)",
    "ActionOptConfig.cem_iterations": f"option: used only by act_search=cem-* ({PARL}'s CEM ablation)",
    "ActionOptConfig.cem_population": f"option: used only by act_search=cem-* ({PARL}'s CEM ablation)",
    "ActionOptConfig.action_cache": f"paper: {PARL} Appendix E, cached samples; 0 while training distills (fresh "
                                    "samples), the frozen policy of stage 2 is cached regardless",
    "ActionOptConfig.cache_pool": f"option: used only with action_cache > 0 online ({PARL} Appendix E recomputes "
                                  "the cache of all states after each epoch of distillation; here a pool per round, "
                                  "docs/results/parl-throughput.md)",
    "ActionOptConfig.distill_after": "option: off (the staged pipeline keeps the policy frozen offline instead)",
    "ActionOptConfig.distill_every": "option: every update, as the paper",
    "ActionOptConfig.late_after": "option: off (the paper's setting throughout)",
    "ActionOptConfig.late_samples": "option: unchanged (the paper's setting throughout)",
    "ActionOptConfig.late_local_steps": "option: unchanged (the paper's setting throughout)",
    "PARLCalQLConfig.policy": f"paper: {PARL}, a diffusion policy (DDPM, 5 steps as its reference code)",
    "PARLCalQLConfig.hidden": "paper: the class's default (3 residual blocks of 256, IDQL's network that PA-RL uses)",
    "PARLCalQLConfig.ensemble": f"paper: {PARL}, ten Q-functions (REDQ-style ensemble of its Cal-QL critic)",
    "PARLCalQLConfig.policy_lr": f"reference: {PARL}'s code, 3e-4 for the diffusion policy",
    "PARLCalQLConfig.bc_steps": f"paper: {PARL} Algorithm 2 line 1 (BC first); the split of an offline budget in "
                                "half is the CPU protocol's choice (the paper gives steps per domain, none for OGBench)",
    "PARLCalQLConfig.bc_run": "option: none (stage 1 runs inside the same command)",
    "PARLCalQLConfig.pretrain_local_steps": f"paper: {PARL} takes the same T local steps in every stage (-1); 0 is "
                                            "the CPU protocol's lever, measured in docs/results/parl-throughput.md",
    "PARLRLPDConfig.cql_alpha": "paper: RLPD (Ball et al. 2023) has no conservatism",
    "PARLRLPDConfig.bins": "paper: RLPD regresses with MSE",
    "PARLRLPDConfig.calibrated": "paper: RLPD has no calibration",
    "PARLRLPDConfig.needs_mc_returns": "run: no Monte-Carlo returns without calibration",
    "PARLRLPDConfig.online_updates_per_step": f"paper: {PARL} (RLPD + PA-RL, UTD 10) and RLPD",
    "PARLIQLConfig.policy": f"paper: {PARL}, IQL + PA-RL with a diffusion policy (section 5.1)",
    "PARLIQLConfig.hidden": "paper: the class's default (3 residual blocks of 256)",
    "PARLIQLConfig.critic_hidden": "paper: IQL (Kostrikov et al. 2022), 256x256 critics",
    "PARLIQLConfig.bc_only": "option: off (on for IDQL)",
    "IDQLConfig.expectile": "paper: IDQL (Hansen-Estruch et al. 2023), tau 0.7 outside AntMaze",
    "IDQLConfig.keep": "paper: IDQL re-ranks all 32 samples",
    "IDQLConfig.local_steps": "paper: IDQL takes no gradient steps on actions",
    "IDQLConfig.data_action": "paper: IDQL ranks its policy's samples only",
    "IDQLConfig.bc_only": "paper: IDQL's diffusion policy is plain behavior cloning",
    # ------------------------------------------------------------------ TD3+BC
    # ------------------------------------------------------------------ FQL (its OGBench reference code)
    "FQLConfig.hidden": f"{FQL_REF}: actor_hidden_dims (512, 512, 512, 512) for the flow and one-step actors; the CPU protocol sets 4x256",
    "FQLConfig.critic_hidden": f"{FQL_REF}: value_hidden_dims = actor_hidden_dims",
    "FQLConfig.ensemble": f"{FQL_REF}: two Q heads",
    "FQLConfig.q_agg": f"{FQL_REF}: q_agg='mean' (the actor's Q is always the heads' mean)",
    "FQLConfig.lr": f"{FQL_REF}: lr 3e-4, one Adam over critic and actors",
    "FQLConfig.discount": f"{FQL_REF}: 0.99 (the manipulation domains)",
    "FQLConfig.target_tau": f"{FQL_REF}: tau 0.005",
    "FQLConfig.alpha": f"{FQL_REF}: alpha 10 by default; per domain as {FQL}'s README and appendix: cube-single, "
                       "cube-double and scene 300, puzzle-3x3 and puzzle-4x4 1000",
    "FQLConfig.flow_steps": f"{FQL_REF}: flow_steps 10 (Euler)",
    "FQLConfig.normalize_q_loss": f"{FQL_REF}: normalize_q_loss False",
    "FQLConfig.critic_layer_norm": f"{FQL_REF}: layer_norm True for the critic (actor_layer_norm False)",
    "FQLConfig.norm_after_activation": "reference: seohongpark/fql utils/networks.py MLP, Dense -> activation -> LayerNorm",
    "FQLConfig.init": "reference: seohongpark/fql utils/networks.py default_init, variance_scaling(1, fan_avg, uniform)",
    "FQLConfig.activation": "reference: seohongpark/fql utils/networks.py, GELU",
    # ------------------------------------------------------------------ ReBRAC (FQL's OGBench reference code)
    "ReBRACConfig.policy": f"{REBRAC_REF}: a tanh-squashed Gaussian with constant std, acting by its mode (gaussian)",
    "ReBRACConfig.policy_options": f"{REBRAC_REF}: const_std (learned_std=false), default_init (xavier), actor_fc_scale 0.01",
    "ReBRACConfig.hidden": f"{REBRAC_REF}: actor_hidden_dims (512, 512, 512, 512); the CPU protocol sets 4x256",
    "ReBRACConfig.critic_hidden": f"{REBRAC_REF}: value_hidden_dims = actor_hidden_dims",
    "ReBRACConfig.ensemble": f"{REBRAC_REF}: two Q heads, their minimum",
    "ReBRACConfig.critic_layer_norm": f"{REBRAC_REF}: layer_norm True (actor_layer_norm False); ReBRAC paper Sec. 3",
    "ReBRACConfig.norm_after_activation": "reference: seohongpark/fql utils/networks.py MLP, Dense -> activation -> LayerNorm",
    "ReBRACConfig.init": "reference: seohongpark/fql utils/networks.py default_init, variance_scaling(1, fan_avg, uniform)",
    "ReBRACConfig.activation": "reference: seohongpark/fql utils/networks.py, GELU",
    "ReBRACConfig.lr": f"{REBRAC_REF}: lr 3e-4, one Adam over actor and critic",
    "ReBRACConfig.discount": f"{REBRAC_REF}: 0.99",
    "ReBRACConfig.target_tau": f"{REBRAC_REF}: tau 0.005",
    "ReBRACConfig.alpha_actor": f"{REBRAC_REF}: alpha_actor 0 by default; per domain the FQL paper's ReBRAC values, read here from "
                                "its README's commands for the same domains' visual tasks (the state-task table was not "
                                "readable offline): cube-single 1, cube-double 0.1, scene 0.1, puzzle 0.3",
    "ReBRACConfig.alpha_critic": f"{REBRAC_REF}: alpha_critic 0 by default; per domain as alpha_actor: cube 0, scene 0.01, puzzle 0.01",
    "ReBRACConfig.actor_freq": f"{REBRAC_REF}: actor_freq 2 (TD3's policy delay)",
    "ReBRACConfig.policy_noise": f"{REBRAC_REF}: actor_noise 0.2",
    "ReBRACConfig.noise_clip": f"{REBRAC_REF}: actor_noise_clip 0.5",
    "ReBRACConfig.needs_next_actions": "run: the critic penalty needs the dataset's next actions",
    "TD3BCConfig.policy": "paper: TD3+BC (Fujimoto & Gu 2021), a deterministic actor",
    "TD3BCConfig.policy_options": "option: the class's own defaults",
    "TD3BCConfig.hidden": "paper: TD3+BC, 256x256 (the CPU protocol sets 4x256)",
    "TD3BCConfig.critic_hidden": "paper: TD3+BC, 256x256",
    "TD3BCConfig.activation": "paper: TD3+BC, ReLU",
    "TD3BCConfig.ensemble": "paper: TD3's twin critics",
    "TD3BCConfig.critic_layer_norm": "paper: TD3+BC has none (ReBRAC adds it)",
    "TD3BCConfig.bins": "paper: TD3+BC regresses with MSE",
    "TD3BCConfig.v_min": "option: used only with bins > 0 (OGBench one-subtask range)",
    "TD3BCConfig.v_max": "option: used only with bins > 0",
    "TD3BCConfig.critic_lr": "paper: TD3+BC, 3e-4",
    "TD3BCConfig.policy_lr": "paper: TD3+BC, 3e-4",
    "TD3BCConfig.discount": "paper: TD3+BC, 0.99",
    "TD3BCConfig.target_tau": "paper: TD3+BC, 0.005",
    "TD3BCConfig.alpha": "paper: TD3+BC, alpha 2.5",
    "TD3BCConfig.policy_noise": "paper: TD3+BC, policy noise 0.2",
    "TD3BCConfig.noise_clip": "paper: TD3+BC, noise clip 0.5",
    "TD3BCConfig.policy_delay": "paper: TD3+BC, policy frequency 2",
    # ------------------------------------------------------------------ CFPI
    "CFPIConfig.policy": f"paper: {THESIS}, MG-BC (a Gaussian mixture behavior policy)",
    "CFPIConfig.policy_options": f"paper: {THESIS} Table 3.8, 4 components (the thesis' tanh of the mixture, "
                                 "its pre-tanh space, is not yet followed: open)",
    "CFPIConfig.hidden": f"paper: {THESIS} Table 3.8, 3 x 256",
    "CFPIConfig.critic_hidden": f"paper: {THESIS} Table 3.8, 3 x 256 (its critic is an IQN; ours regresses the mean)",
    "CFPIConfig.activation": f"paper: {THESIS} Table 3.8, ReLU",
    "CFPIConfig.ensemble": f"paper: {THESIS}, two Q-functions",
    "CFPIConfig.critic_layer_norm": f"choice: LayerNorm as the OGBench critics of {FQL} (the thesis has none); unmeasured",
    "CFPIConfig.bins": f"paper: {THESIS}, an MSE critic",
    "CFPIConfig.v_min": "option: used only with bins > 0",
    "CFPIConfig.v_max": "option: used only with bins > 0",
    "CFPIConfig.critic_lr": f"choice: 3e-4, the learning rate of the other critics ({THESIS} Table 3.8 gives none)",
    "CFPIConfig.policy_lr": f"paper: {THESIS} Table 3.8, 1e-4",
    "CFPIConfig.discount": f"paper: {THESIS}, 0.99",
    "CFPIConfig.target_tau": f"paper: {THESIS} Table 3.8, 5e-3",
    "CFPIConfig.operator": f"paper: {THESIS}, I_MG, the best-of-both mixture operator (3.13)",
    "CFPIConfig.log_tau": f"paper: {THESIS} Table 3.8, log tau 0.5",
    "CFPIConfig.delta": f"paper: {THESIS} section 3.4 (Table 3.7's runs), delta = 0.1 for all datasets",
    "CFPIConfig.samples": f"paper: {THESIS} Table 3.8, SG-EBCQ's 10 candidate actions",
    "CFPIConfig.threshold": f"paper: {THESIS} Table 3.8, threshold 0.05 in (3.15)",
    "CFPIConfig.lcb_beta": f"paper: {THESIS}, mean - std / sqrt(2) over two heads",
    "CFPIConfig.iterative": f"paper: {THESIS} Algorithm 1, one-step",
    "CFPIConfig.target_noise": "paper: TD3's target smoothing, 0.2 (iterative only)",
    "CFPIConfig.noise_clip": "paper: TD3's target smoothing, 0.5 (iterative only)",
    "CFPIConfig.needs_next_actions": "run: SARSA needs the dataset's next actions",
    "IterativeCFPIConfig.iterative": f"paper: {THESIS} Algorithm 2",
    "IterativeCFPIConfig.needs_next_actions": "run: the iterative target uses improved actions, not the dataset's",
    # ------------------------------------------------------------------ FB
    "FBConfig.z_dim": "reference: metamotivo / FB (Touati & Ollivier 2021), d = 50 outside mazes",
    "FBConfig.f_hidden": "reference: FB on OGBench (FQL-derived fb_repr), F 2 x 512 at the CPU's budget (reference: 1024)",
    "FBConfig.b_hidden": "reference: FB, B 256x256",
    "FBConfig.policy": "paper: FB (Touati & Ollivier 2021), a deterministic TD3-style actor",
    "FBConfig.policy_options": "option: the class's own defaults",
    "FBConfig.hidden": "reference: FB actor 512x512",
    "FBConfig.activation": "reference: FB, ReLU",
    "FBConfig.lr": "reference: metamotivo, 1e-4",
    "FBConfig.discount": "reference: FB, 0.99",
    "FBConfig.target_tau": "reference: FB on OGBench, tau 0.01",
    "FBConfig.ortho_weight": "paper: FB, orthonormality weight 1 (BREEZE: 10)",
    "FBConfig.z_mix": "reference: FB, z_mix_ratio 0.5",
    "FBConfig.actor": "paper: FB, the TD3-style actor",
    "FBConfig.bc_alpha": "paper: TD3+BC's alpha 2.5 for the td3bc actor",
    "FBConfig.target_noise": "paper: TD3's target smoothing, 0.2",
    "FBConfig.noise_clip": "reference: FB, 0.3",
    "FBConfig.expectile": "paper: BREEZE, V expectile 0.99 (awr actor)",
    "FBConfig.beta": "paper: BREEZE code, weights exp(0.05 (Q - V)) clipped at 100 (awr actor; method note, section 5); 3 before 2026-12-08 saturated them on cube-single (bfm.md)",
    "FBConfig.max_weight": "paper: IQL's clip of the AWR weights, 100",
    "FBConfig.parl_samples": "choice: a CPU-sized PA-RL setting for the parl actor (paper: 32)",
    "FBConfig.parl_keep": "choice: a CPU-sized PA-RL setting for the parl actor (paper: 10)",
    "FBConfig.parl_steps": "choice: a CPU-sized PA-RL setting for the parl actor (paper: 10)",
    "FBConfig.parl_step_size": f"paper: {PARL} Appendix B.1, 3e-4",
    "FBConfig.act_samples": "option: 1 (FB acts with its actor; BREEZE: 64)",
    "FBConfig.inference_samples": "reference: metamotivo, 100k transitions for reward inference",
    "FBConfig.reward_free": "paper: FB learns from reward-free data; only environment terminals stop bootstrapping",
    # ------------------------------------------------------------------ LCD
    "FlatConfig.policy": "paper: LCD (thesis ch. 4) baselines, a flat diffusion policy",
    "FlatConfig.policy_options": "option: the class's own defaults",
    "FlatConfig.hidden": "option: the class's default size",
    "FlatConfig.activation": "reference: GELU, the networks of the project",
    "FlatConfig.lr": "paper: LCD, 3e-4 for the low level",
    "FlatConfig.lang_dim": "run: the size of all-MiniLM-L6-v2's embedding",
    "FlatConfig.language_encoder": "paper: LCD uses a frozen pretrained language encoder (all-MiniLM-L6-v2 here)",
    "FlatConfig.drawer_boost": "option: the play data as generated",
    "FlatConfig.holdout_task": "option: no held-out subtask",
    "FlatConfig.goal_steps": "paper: LCD Table 4.5, c = 8 at the CPU's scale (see papers/lcd_on_ogbench.md)",
    "FlatConfig.horizon": "paper: LCD Table 4.5, H = 8 at the CPU's scale (see papers/lcd_on_ogbench.md)",
    "FlatConfig.hindsight_steps": "paper: papers/lcd_on_ogbench.md, the low level's goals c steps ahead (0: c)",
    "LCDConfig.policy": "paper: LCD, an MLP low-level policy",
    "LCDConfig.hidden": "paper: LCD low level 256x256",
    "LCDConfig.latent_dim": "paper: LCD, a 16-dim latent goal space (papers/lcd_on_ogbench.md)",
    "LCDConfig.encoder_hidden": "paper: LCD, encoder 256x256",
    "LCDConfig.state_encoder": "paper: LCD thesis 4.2.1 and Algorithm 4, pi_lo = phi(E(s_t), g_t) with one encoder",
    "LCDConfig.planner_ema": "paper: LCD Table 4.5 (trainer), EMA decay 0.995",
    "LCDConfig.planner_ema_every": "reference: diffuser's Trainer, update_ema_every=10 (LCD builds on diffuser)",
    "LCDConfig.planner_ema_start": "reference: diffuser's Trainer, step_start_ema=2000 (the EMA copies before it)",
    "LCDConfig.low_steps": "protocol: the scene-lang budget of docs/results/lcd.md",
    "LCDConfig.planner_width": "paper: LCD temporal U-Net at CPU size (papers/lcd_on_ogbench.md)",
    "LCDConfig.diffusion_steps": "paper: LCD Table 4.5, 100 noise levels",
    "LCDConfig.ddim_steps": "paper: LCD, DDIM sampling with 10 steps",
    "LCDConfig.planner_lr": "paper: LCD Table 4.5, 2e-4",
    "LCDConfig.planner_rollouts": "choice: off (the planner on dataset windows, as the measured tables); N > 0 is "
                                  "Algorithm 4 line 1, D_onpolicy from the low level's replays (not yet measured)",
    "LCDConfig.rollout_slack": "choice: two planner strides (2c) past a replayed window's length (not yet measured)",
    "LCDConfig.rollout_share": "paper: LCD Algorithm 4, the planner trains on D_onpolicy only (share 1)",
    # ------------------------------------------------------------------ the run
    "TrainConfig.recipe": "run", "TrainConfig.dataset": "run", "TrainConfig.env": "run: the dataset's default task",
    "TrainConfig.observation_keys": "run: every key of a Dict observation, in the space's order (Gymnasium's FlattenObservation order)",
    "TrainConfig.dataset_episodes": "protocol: the source's full size (1000 episodes)",
    "TrainConfig.steps": "run: set per command (the CPU protocol: 100,000)",
    "TrainConfig.seed": "run", "TrainConfig.batch_size": f"paper: 256, {FQL} and the CPU protocol",
    "TrainConfig.log_every": "run", "TrainConfig.eval_every": "run", "TrainConfig.eval_episodes": "run: 50 in the protocol",
    "TrainConfig.eval_envs": "run", "TrainConfig.checkpoint_every": "run", "TrainConfig.keep_checkpoints": "run",
    "TrainConfig.reward_scale": f"paper: OGBench's rewards unscaled, as {FQL}",
    "TrainConfig.reward_bias": f"paper: OGBench's rewards unshifted, as {FQL}",
    "TrainConfig.sparse_reward": "reference: OGBench's own per-subtask rewards by default, as seohongpark/fql's "
                                 "--sparse=False; the sparse variant is that flag's rule, which the action-chunking "
                                 "reference (ColinQiyangLi/qc README) uses for scene and puzzle-3x3",
    "TrainConfig.normalize_observations": "paper: per recipe (TD3+BC and CFPI standardize states; FQL's baselines do not)",
    "TrainConfig.encoder": f"paper: {FQL} pixel tasks, an IMPALA encoder", "TrainConfig.encoder_features": "run",
    "TrainConfig.encoder_sharing": f"paper: {PARL} and DrQ-v2, one encoder trained by the critic",
    "TrainConfig.frame_stack": f"paper: {FQL} pixel tasks, frame_stack 3",
    "TrainConfig.augment_pad": "paper: DrQ random shift of 4 pixels", "TrainConfig.device": "run",
    "TrainConfig.threads": "run", "TrainConfig.cuda_graph": "run", "TrainConfig.compile": "run",
    "TrainConfig.precision": "run", "TrainConfig.tensorboard": "run", "TrainConfig.wandb": "run",
    "TrainConfig.progress": "run",
    "OnlineConfig.online_steps": "protocol: 100,000 environment steps",
    "OnlineConfig.online_ratio": f"paper: {CALQL} and RLPD, 50/50 offline and online batches",
    "OnlineConfig.online_sampling": "option: the recipe's (ratio: the online_ratio split of Cal-QL and RLPD; FQL: uniform over one buffer holding the offline data and the new transitions, as its reference's fine-tuning)",
    "OnlineConfig.updates_per_step": "paper: one update per step unless the recipe's paper says otherwise (RLPD: 10)",
    "OnlineConfig.reset_optimizers": f"choice: optimizer states carried over ({PARL}'s reference resets them: an option, not yet measured)",
    "OnlineConfig.explore": "paper: the stochastic policy collects, as Cal-QL and PA-RL",
    "OnlineConfig.eval_every": "run", "OnlineConfig.checkpoint_every": "run", "OnlineConfig.log_every": "run",
    "OnlineConfig.buffer_capacity": "run: every online transition of the protocol's budget is kept",
}
KINDS = ("paper", "reference", "protocol", "measured", "option", "run", "choice")


def config_classes():
    """(recipe name, its Config class) for every recipe, then the run's train and online configs."""
    from anypolicy.agents.base import RECIPES, recipe_class
    from anypolicy.train.run_config import TrainConfig
    from anypolicy.train.online import OnlineConfig

    return [(name, recipe_class(name).Config) for name in RECIPES] + [("train", TrainConfig), ("online", OnlineConfig)]


def defining_class(cls, field: str):
    """The class of cls's MRO whose body sets the field's default (the one an entry names)."""
    return next(k for k in cls.__mro__ if field in k.__dict__.get("__annotations__", {}))


def source_of(cls, field: str) -> str | None:
    return SOURCES.get(f"{defining_class(cls, field).__name__}.{field}")


def missing() -> list[str]:
    """Defaults with no entry, or an entry of no known kind."""
    out = []
    for _, cls in config_classes():
        for f in dataclasses.fields(cls):
            src = source_of(cls, f.name)
            if src is None or src.split(":")[0].split(" ")[0] not in KINDS:
                out.append(f"{defining_class(cls, f.name).__name__}.{f.name}")
    return sorted(set(out))


def _value(v) -> str:
    return "None" if v is None else ", ".join(map(str, v)) if isinstance(v, tuple) else repr(v) if isinstance(v, str) else str(v)


def _comment(cls, field: str) -> str:
    src = inspect.getsource(defining_class(cls, field))
    m = re.search(rf"^\s+{field}: [^\n]*?  # ([^\n]*)$", src, re.M)
    return m.group(1).replace("|", "/") if m else ""


def render() -> str:
    lines = ["# Defaults and their sources", "",
             "Generated from the config dataclasses by `python -m anypolicy.defaults` (`make test` checks that this page",
             "is current and that every default has a source). Kinds: paper / reference / protocol (the value as that",
             "source sets it), measured (a deviation kept by a side-by-side measurement), option (an anypolicy switch",
             "that leaves the paper's method unchanged), run (not an algorithm setting), choice (no source gives a",
             "value: open work, listed at the end).", ""]
    choices = []
    for name, cls in config_classes():
        table = getattr(cls, "DOMAIN_DEFAULTS", {})
        lines += [f"## {name}", "", "| key | default | what | source |", "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            value = _value(getattr(cls(), f.name) if f.default is dataclasses.MISSING else f.default)
            per_domain = {d: v[f.name] for d, v in table.items() if f.name in v}
            if per_domain:
                value += " (" + ", ".join(f"{d}: {v}" for d, v in per_domain.items()) + ")"
            src = source_of(cls, f.name) or "MISSING"
            if src.startswith("choice"):
                choices.append(f"- `{name}.{f.name}` = {value}: {src[len('choice: '):]}")
            lines.append(f"| `{f.name}` | {value} | {_comment(cls, f.name)} | {src} |")
        lines.append("")
    lines += ["## Open: defaults no source sets", ""] + sorted(set(choices)) + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).resolve().parents[2].joinpath("docs", "defaults.md").write_text(render())
