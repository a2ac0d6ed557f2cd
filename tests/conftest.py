import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
# precision=auto answers fp32 on every machine in the tests (their figures were measured in fp32; processes the
# tests spawn inherit it); tests of the detection itself remove it
os.environ["ANYPOLICY_NATIVE_BF16"] = "0"


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


def render_in_chromium(page, screenshot, size=(1200, 2000)):
    """Open an HTML file in headless Chromium (Debian's package; `make test` installs it): returns the DOM
    after load and the screenshot's pixels [H, W, C]."""
    import shutil
    import subprocess

    import matplotlib.image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "headless Chromium is needed: `apt-get install chromium` (make test installs it)"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(flags + ["--virtual-time-budget=10000", "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    subprocess.run(flags + [f"--window-size={size[0]},{size[1]}", f"--screenshot={screenshot}", page.as_uri()],
                   capture_output=True, timeout=120)
    return dom, matplotlib.image.imread(screenshot)


def collect_random(env, steps, dataset_id):
    """A dataset made by minari's own DataCollector: `steps` random actions in `env`, as minari id `dataset_id`
    under $MINARI_DATASETS_PATH."""
    import warnings

    import minari

    env = minari.DataCollector(env)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minari asks for authors and links
        return env.create_dataset(dataset_id, algorithm_name="random")


def final_weights(run_dir):
    """The weights of a run's latest checkpoint."""
    from safetensors.torch import load_file

    from anypolicy.train import checkpoint

    return load_file(str(checkpoint.latest_checkpoint(run_dir) / "weights.safetensors"))


def assert_same_weights(a: dict, b: dict):
    import torch

    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
