"""A CALVIN-style language benchmark on OGBench's `scene`: the abstract state and its predicates, the 11
subtasks and when a state sequence achieves them, instruction templates (training and held-out
phrasings), the 32 symbolic start states, feasible instruction chains, and reset to a symbolic state.
Design and thresholds: `../shared/papers/lcd_on_ogbench.md`.

Abstract state from (qpos, button_states):
    drawer  open (q23 <= -0.12) | closed (q23 >= -0.04) | ajar        window  open (q24 >= 0.16) | closed (<= 0.04) | ajar
    lock_drawer, lock_window: button_states (1 = unlocked, 0 = locked)
    cube    drawer (inside the drawer's moving box) | air (z >= 0.03) | left (y < 0.03) | right (y > 0.08) | middle
A subtask is achieved from s to e when its variable has the target value at e and another at s; moving
into `ajar`, `air` or `middle` is never an event.
"""
from __future__ import annotations

import itertools

import numpy as np

DRAWER_Q, WINDOW_Q, CUBE_Q, BUTTON_Q = 23, 24, slice(14, 17), slice(21, 23)

# subtask: (variable, target value, values it may start from, category)
SUBTASKS = {
    "open_drawer": ("drawer", "open", ("closed", "ajar"), "drawer"),
    "close_drawer": ("drawer", "closed", ("open", "ajar"), "drawer"),
    "open_window": ("window", "open", ("closed", "ajar"), "window"),
    "close_window": ("window", "closed", ("open", "ajar"), "window"),
    "unlock_drawer": ("lock_drawer", 1, (0,), "dlock"),
    "lock_drawer": ("lock_drawer", 0, (1,), "dlock"),
    "unlock_window": ("lock_window", 1, (0,), "wlock"),
    "lock_window": ("lock_window", 0, (1,), "wlock"),
    "move_cube_left": ("cube", "left", ("right", "middle"), "cube"),
    "move_cube_right": ("cube", "right", ("left", "middle"), "cube"),
    "put_cube_in_drawer": ("cube", "drawer", ("left", "right", "middle"), "cube_drawer"),
}
TRANSIENT = {"drawer": "ajar", "window": "ajar", "cube": ("air", "middle")}  # values no event ends in


def cube_zone(xyz, drawer_q: float) -> str:
    x, y, z = xyz
    hy = -0.24 - drawer_q  # the drawer box moves with the drawer
    if 0.21 <= x <= 0.45 and hy - 0.27 <= y <= hy - 0.07 and 0.0 <= z <= 0.15:
        return "drawer"
    if z >= 0.03:
        return "air"
    return "left" if y < 0.03 else "right" if y > 0.08 else "middle"


def abstract_state(qpos, button_states) -> dict:
    qpos = np.asarray(qpos)
    drawer, window = float(qpos[DRAWER_Q]), float(qpos[WINDOW_Q])
    return {"drawer": "open" if drawer <= -0.12 else "closed" if drawer >= -0.04 else "ajar",
            "window": "open" if window >= 0.16 else "closed" if window <= 0.04 else "ajar",
            "lock_drawer": int(button_states[0]), "lock_window": int(button_states[1]),
            "cube": cube_zone(qpos[CUBE_Q], drawer)}


def achieved(task: str, start: dict, end: dict) -> bool:
    variable, target, sources, _ = SUBTASKS[task]
    return end[variable] == target and start[variable] in sources


def events(states: list[dict]) -> list[tuple[int, str]]:
    """Every subtask completed along a sequence of abstract states: (index where it completes, name).
    Each variable is followed from its last settled value (transient values are passed through), so a
    button pressed twice gives two events, and open -> ajar -> open gives none."""
    found = []
    settled = dict(states[0]) if states else {}
    for t, state in enumerate(states[1:], start=1):
        for variable, value in state.items():
            transient = TRANSIENT.get(variable, ())
            if value == settled[variable] or value in (transient if isinstance(transient, tuple) else (transient,)):
                continue
            for task, (var, target, sources, _) in SUBTASKS.items():
                if var == variable and target == value and settled[variable] in sources:
                    found.append((t, task))
            settled[variable] = value
    return found


# --- instructions -------------------------------------------------------------------------------------
def _templates() -> dict[str, tuple[list[str], list[str]]]:
    """task -> (training phrasings, held-out phrasings)."""
    out = {}
    for x, side in (("drawer", "left"), ("window", "right")):
        slide_open = "slide the drawer out" if x == "drawer" else "slide the window pane open"
        slide_shut = "slide the drawer back in" if x == "drawer" else "slide the window pane shut"
        out[f"open_{x}"] = ([f"open the {x}", f"{'pull' if x == 'drawer' else 'slide'} the {x} open", slide_open,
                             f"grab the {x} handle and move it open"],
                            [f"make the {x} open", "pull out the drawer" if x == "drawer" else "open up the window"])
        out[f"close_{x}"] = ([f"close the {x}", f"push the {x} shut", slide_shut, f"push the {x} closed"],
                             [f"shut the {x}", "push in the drawer" if x == "drawer" else "move the window back to closed"])
        out[f"unlock_{x}"] = ([f"unlock the {x}", f"press the {side} button to unlock the {x}", f"release the {x} lock",
                               f"push the {x}'s button to free it"],
                              [f"hit the {side} button so the {x} can move", f"make the {x} unlocked"])
        out[f"lock_{x}"] = ([f"lock the {x}", f"press the {side} button to lock the {x}", f"engage the {x} lock",
                             f"push the {x}'s button to secure it"],
                            [f"hit the {side} button so the {x} cannot move", f"make the {x} locked"])
    out["put_cube_in_drawer"] = (["put the cube in the drawer", "place the block inside the drawer",
                                  "pick up the cube and drop it into the drawer", "store the cube in the drawer"],
                                 ["move the block into the open drawer", "stow the cube in the drawer"])
    for side, toward in (("left", "drawer"), ("right", "window")):
        out[f"move_cube_{side}"] = ([f"move the cube to the {side} side of the table", f"place the block on the {side}",
                                     f"pick up the cube and put it on the {side}", f"move the block toward the {toward} side"],
                                    [f"shift the cube {side}wards", f"relocate the block to the {side} half of the table"])
    return out


TEMPLATES = _templates()


def instruction(task: str, rng: np.random.Generator, held_out: bool = False) -> str:
    train, test = TEMPLATES[task]
    options = test if held_out else train
    return options[rng.integers(len(options))]


# --- symbolic states and chains -----------------------------------------------------------------------
def symbolic_states() -> list[dict]:
    """The 32 start states: drawer x window x both locks x cube side (nothing starts in the drawer)."""
    return [{"drawer": d, "window": w, "lock_drawer": ld, "lock_window": lw, "cube": c}
            for d, w, ld, lw, c in itertools.product(("open", "closed"), ("open", "closed"), (0, 1), (0, 1),
                                                      ("left", "right"))]


def feasible(task: str, state: dict) -> bool:
    variable, target, sources, _ = SUBTASKS[task]
    if state[variable] not in sources:
        return False
    if variable in ("drawer", "window") and state[f"lock_{variable}"] == 0:
        return False  # a locked part does not move
    if task == "put_cube_in_drawer":
        return state["drawer"] == "open"
    return True


def apply(task: str, state: dict) -> dict:
    variable, target, _, _ = SUBTASKS[task]
    return {**state, variable: target}


def chain_ok(start: dict, chain) -> bool:
    """Feasible in order from `start`, and no category twice (CALVIN's rule)."""
    if len({SUBTASKS[t][3] for t in chain}) != len(chain):
        return False
    state = start
    for task in chain:
        if not feasible(task, state):
            return False
        state = apply(task, state)
    return True


def sample_chains(n: int = 1000, length: int = 5, seed: int = 0, max_tries: int = 100_000):
    """CALVIN-style evaluation chains: n chains split evenly over the 32 start states, each `length`
    distinct, feasible tasks with no repeated category, no chain twice for a state. [(start, chain)]."""
    rng = np.random.default_rng(seed)
    states, tasks = symbolic_states(), sorted(SUBTASKS)
    out = []
    for state, count in zip(states, (len(a) for a in np.array_split(np.arange(n), len(states)))):
        seen, tries = set(), 0
        while len(seen) < count and tries < max_tries:
            tries += 1
            chain = tuple(rng.choice(tasks, size=length, replace=False))
            if chain not in seen and chain_ok(state, chain):
                seen.add(chain)
                out.append((state, list(chain)))
    return out


# --- reset to a symbolic state ---------------------------------------------------------------------------
def task_info(state: dict, rng: np.random.Generator) -> dict:
    """The scene env's task_info for a symbolic state (cube placed with a margin inside its zone)."""
    y = rng.uniform(-0.07, 0.0) if state["cube"] == "left" else rng.uniform(0.11, 0.18)
    init = {"block_xyzs": np.array([[rng.uniform(0.3, 0.45), y, 0.02]]),
            "button_states": np.array([state["lock_drawer"], state["lock_window"]]),
            "drawer_pos": -0.16 if state["drawer"] == "open" else 0.0,
            "window_pos": 0.2 if state["window"] == "open" else 0.0}
    return {"init": init, "goal": {k: np.copy(v) for k, v in init.items()}}


def make_scene_env(max_episode_steps: int = 10**6):
    """scene-v0 in task mode that neither stops at its own goal nor truncates a chain (its defaults do both)."""
    import gymnasium
    import ogbench  # noqa: F401  (registers the environments)

    return gymnasium.make("scene-v0", terminate_at_goal=False, max_episode_steps=max_episode_steps)


def reset_to(env, state: dict, seed: int, settle_steps: int = 5):
    """Reset `env` (from make_scene_env) to a symbolic state; returns (observation, info, abstract state)."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed, options={"task_info": task_info(state, rng)})
    for _ in range(settle_steps):  # let the scene settle with zero actions
        obs, _, _, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    return obs, info, abstract_state(info["qpos"], info["button_states"])


# --- language annotation of play data --------------------------------------------------------------------
def annotate(dataset, window: int = 64, offsets=(0, 8, 16), seed: int = 0) -> dict:
    """CALVIN-style language windows of a scene play dataset (with its qpos and button_states extras):
    for each subtask event at step t_e, windows [t_e + k - window, t_e + k] for k in `offsets` that stay in
    one episode and contain no other event; each gets a training-template instruction. Returns arrays
    start, end (dataset indices, end inclusive), task, instruction."""
    if "qpos" not in dataset.extras or "button_states" not in dataset.extras:
        raise ValueError("language annotation needs scene play data with qpos and button_states (ogbench:scene-play).")
    rng = np.random.default_rng(seed)
    qpos, buttons = dataset.extras["qpos"], dataset.extras["button_states"]
    out = {"start": [], "end": [], "task": [], "instruction": []}
    for ep in dataset.episode_slices():
        found = events([abstract_state(qpos[i], buttons[i]) for i in range(ep.start, ep.stop)])
        times = np.array([t for t, _ in found])
        for t_e, task in found:
            for k in offsets:
                s, e = t_e + k - window, t_e + k
                if s < 0 or e >= ep.stop - ep.start or np.sum((times > s) & (times <= e)) != 1:
                    continue
                out["start"].append(ep.start + s)
                out["end"].append(ep.start + e)
                out["task"].append(task)
                out["instruction"].append(instruction(task, rng))
    return {"start": np.array(out["start"], np.int64), "end": np.array(out["end"], np.int64),
            "task": np.array(out["task"]), "instruction": np.array(out["instruction"])}


def make_lang_dataset(episodes: int = 100, workers: int | None = None, seed: int = 0, force: bool = False,
                      drawer_boost: float = 0.0):
    """Generate (or reuse) scene play data and its language windows, saved beside it as lang.npz;
    `drawer_boost` sends extra cube targets into the open drawer (the rare put_cube_in_drawer)."""
    from anypolicy.data import ogbench as og
    from anypolicy.data.storage import read_minari

    path = og.generate("ogbench:scene-play", episodes=episodes, workers=workers, seed=seed, force=force,
                       drawer_boost=drawer_boost)
    out = path / "lang.npz"
    if force or not out.exists():
        windows = annotate(read_minari(path), seed=seed)
        np.savez(out, **windows)
    return path, dict(np.load(out))
