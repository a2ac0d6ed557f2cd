"""`anypolicy report`: a self-contained HTML page, rendered in headless Chromium (Debian's `chromium`,
installed by `make test`), with its tables and images present."""
import re

import numpy as np
import pytest
from conftest import render_in_chromium

from anypolicy.cli import main
from anypolicy.evaluate.report import build_report, find_runs
from anypolicy.train.loop import train

FAST = ["hidden=32,32", "eval_every=20", "eval_episodes=3", "eval_envs=3", "log_every=10", "checkpoint_every=40",
        "batch_size=64", "tensorboard=false", "progress=false"]

pytestmark = pytest.mark.slow  # the second tier (make test-slow)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for recipe in ("bc", "iql"):
        for seed in (0, 1):
            train(recipe, "toy:nav", steps=40, seed=seed, run_dir=root / f"{recipe}-s{seed}", overrides=FAST)
    return root


def test_report_renders_in_headless_chromium_with_tables_and_images(sweep, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(sweep), "--out", str(out), "--title", "toy sweep"]) == 0
    page = out.read_text()
    assert "src=\"http" not in page and "href=\"http" not in page  # self-contained
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', page)
    assert len(images) == 3  # aggregate intervals, performance profile, learning curves
    dom, pixels = render_in_chromium(out, tmp_path / "report.png")
    assert 'data-images-loaded="3"' in dom  # every image decoded in the browser
    assert dom.count("<table>") == 3 and "bc-s0" in dom and "iql-s1" in dom and "toy sweep" in dom
    assert pixels.shape[:2] == (2000, 1200) and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50


def test_report_groups_seeds_and_refuses_bad_paths(sweep, tmp_path):
    runs = find_runs([sweep])
    assert [r.name for r in runs] == ["bc-s0", "bc-s1", "iql-s0", "iql-s1"]
    page = build_report([sweep / "bc-s0", sweep / "bc-s1"], tmp_path / "r.html").read_text()
    assert re.search(r"<td>bc</td><td>toy-nav</td><td>2</td>", page)
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        build_report([tmp_path / "missing"], tmp_path / "x.html")
    with pytest.raises(FileNotFoundError, match="no run directories"):
        build_report([tmp_path], tmp_path / "x.html")


def test_eval_records_a_video_that_the_report_embeds(sweep, tmp_path):
    from PIL import Image

    run = sweep / "iql-s0"
    assert main(["eval", str(run), "--episodes", "2", "--video", "--video-episodes", "1"]) == 0
    videos = list((run / "videos").glob("*.gif"))
    assert len(videos) == 1
    gif = Image.open(videos[0])
    assert gif.n_frames >= 2 and gif.size == (128, 128)
    page = build_report([run], tmp_path / "r.html").read_text()
    assert "data:image/gif;base64," in page


def test_ogbench_environments_render_offscreen(tmp_path):
    from anypolicy.envs.rollout import record_video

    path = record_video(lambda o: np.zeros((1, 5), np.float32), "cube-single-singletask-task2-v0",
                        tmp_path / "cube.gif", max_steps=3)
    from PIL import Image

    gif = Image.open(path)
    assert gif.n_frames == 4 and gif.size == (200, 200)
    frame = np.asarray(gif.convert("RGB"))
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 20  # a rendered scene, not a blank image
