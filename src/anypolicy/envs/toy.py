"""A small 2-D navigation task for fast tests, with a multimodal, mixed-quality dataset.

The agent starts near the bottom of the square [-1, 1]^2 and must reach a goal disc at the top; a wall
in the middle must be passed on the left or on the right. The dataset mixes demonstrations that take
either side (the choice is random near the centre line, so the action distribution is bimodal there)
with wandering episodes, so a method must both model several modes and tell good actions from bad.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

GOAL = np.array([0.0, 0.8], np.float32)
GOALS = {"nav": GOAL, "nav-corner": np.array([0.6, 0.8], np.float32)}  # toy:<task> -> goal; env id toy-<task>
GOAL_RADIUS = 0.12
WALL_HALF = np.array([0.35, 0.1], np.float32)  # wall centred at the origin
STEP = 0.1
HORIZON = 60


def _blocked(pos: np.ndarray) -> np.ndarray:
    return (np.abs(pos[..., 0]) < WALL_HALF[0]) & (np.abs(pos[..., 1]) < WALL_HALF[1])


class ToyNavEnv(gym.Env):
    """Reward -1 per step until the goal disc is reached (then 0 and the episode ends); 60 steps at most."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, goal: np.ndarray = GOAL):
        self.goal = np.asarray(goal, np.float32)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._pos = np.zeros(2, np.float32)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._pos = np.array([self.np_random.uniform(-0.5, 0.5), self.np_random.uniform(-0.9, -0.7)], np.float32)
        self._t = 0
        return self._pos.copy(), {"success": False}

    def step(self, action):
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        nxt = np.clip(self._pos + STEP * action, -1.0, 1.0)
        if not _blocked(nxt):
            self._pos = nxt.astype(np.float32)
        self._t += 1
        success = bool(np.linalg.norm(self._pos - self.goal) <= GOAL_RADIUS)
        return self._pos.copy(), (0.0 if success else -1.0), success, self._t >= HORIZON, {"success": success}


    def render(self, size: int = 128) -> np.ndarray:
        """An RGB picture [size, size, 3]: the wall grey, the goal disc green, the agent a red square."""
        grid = (np.arange(size) + 0.5) / size * 2 - 1
        x, y = np.meshgrid(grid, -grid)  # image rows run from the top (y = 1) down
        img = np.full((size, size, 3), 255, np.uint8)
        img[np.hypot(x - self.goal[0], y - self.goal[1]) <= GOAL_RADIUS] = (0, 158, 115)
        img[(np.abs(x) < WALL_HALF[0]) & (np.abs(y) < WALL_HALF[1])] = (120, 120, 120)
        img[(np.abs(x - self._pos[0]) < 0.04) & (np.abs(y - self._pos[1]) < 0.04)] = (213, 94, 0)
        return img


def _demo_action(pos: np.ndarray, side: float, rng: np.random.Generator, noise: float, goal: np.ndarray) -> np.ndarray:
    """Go to a waypoint beside the wall on `side` (-1 left, +1 right), then to the goal."""
    below_wall = pos[1] < WALL_HALF[1] + 0.05
    target = np.array([side * (WALL_HALF[0] + 0.15), 0.0], np.float32) if below_wall else goal
    if below_wall and abs(pos[0]) > WALL_HALF[0] + 0.05:
        target = np.array([pos[0], WALL_HALF[1] + 0.1], np.float32)
    delta = (target - pos) / STEP
    action = delta / max(1.0, float(np.abs(delta).max()))
    return np.clip(action + rng.normal(0, noise, 2), -1, 1).astype(np.float32)


def make_dataset(episodes: int = 300, seed: int = 0, expert_fraction: float = 0.5, task: str = "nav"):
    """Episodes of the toy task: a fraction from noisy two-sided demonstrators, the rest wandering."""
    from anypolicy.data.dataset import from_episodes

    rng = np.random.default_rng(seed)
    env = ToyNavEnv(GOALS[task])
    eps = []
    for i in range(episodes):
        ob, _ = env.reset(seed=int(rng.integers(2**31)))
        expert = rng.random() < expert_fraction
        side = np.sign(ob[0]) if abs(ob[0]) > 0.15 else rng.choice([-1.0, 1.0])
        drift = rng.uniform(-1, 1, 2)
        obs, acts, rews, terms, truncs = [ob], [], [], [], []
        done = False
        while not done:
            if expert:
                a = _demo_action(ob, side, rng, noise=0.2, goal=env.goal)
            else:  # a random walk with a persistent drift: covers the square, rarely reaches the goal
                a = np.clip(0.5 * drift + rng.normal(0, 0.6, 2), -1, 1).astype(np.float32)
            ob, r, term, trunc, _ = env.step(a)
            obs.append(ob)
            acts.append(a)
            rews.append(r)
            terms.append(term)
            truncs.append(trunc)
            done = term or trunc
        eps.append(dict(observations=np.array(obs), actions=np.array(acts), rewards=np.array(rews),
                        terminations=np.array(terms), truncations=np.array(truncs)))
    return from_episodes(eps, env.action_space.low, env.action_space.high,
                         metadata={"name": f"toy:{task}", "episodes": episodes, "seed": seed,
                                   "expert_fraction": expert_fraction})
