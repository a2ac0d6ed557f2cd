import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(autouse=True, scope="session")
def isolated_data_dir(tmp_path_factory):
    """The test session writes its datasets to a private cache, never the user's."""
    os.environ["ANYPOLICY_DATA_DIR"] = str(tmp_path_factory.getbasetemp() / "data")


def make_arrays(n=20, s=3, a=2, episodes=2, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        observations=rng.normal(size=(n, s)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(n, a)).astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32),
        next_observations=rng.normal(size=(n, s)).astype(np.float32),
        terminals=np.zeros(n, bool),
        timeouts=np.tile(np.r_[np.zeros(n // episodes - 1, bool), True], episodes),
        episode_ids=np.repeat(np.arange(episodes), n // episodes),
        action_low=-np.ones(a, np.float32),
        action_high=np.ones(a, np.float32),
    )
