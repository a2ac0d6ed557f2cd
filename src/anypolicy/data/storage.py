"""Datasets on disk: the Minari format (our cache format), OGBench `.npz` and D4RL-style HDF5 imports.

The cache is a Minari data root: a dataset lives at `<root>/<namespace>/<name>-v<N>/data/` with the metadata
minari's public API needs (`dataset_id` equal to that path, `minari_version`), so with
`MINARI_DATASETS_PATH=<root>` `minari.list_local_datasets()` lists it and `minari.load_dataset(id)` opens it.
Every write goes to a temporary directory that is renamed into place, so a killed write never leaves a
half-written dataset in the cache.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from anypolicy.atomic import atomic_directory
from anypolicy.data.dataset import Dataset, DatasetError, from_episodes


def data_dir() -> Path:
    """Root of the dataset cache, a Minari data root: $ANYPOLICY_DATA_DIR, else $MINARI_DATASETS_PATH (so
    minari and anypolicy share one root), else ~/.cache/anypolicy/datasets."""
    root = os.environ.get("ANYPOLICY_DATA_DIR") or os.environ.get("MINARI_DATASETS_PATH") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "anypolicy", "datasets")
    return Path(root)


def is_minari_dir(path: Path) -> bool:
    return (Path(path) / "data" / "metadata.json").is_file()


def minari_id(path: Path) -> str:
    """The id minari's API knows the dataset at `path` by: its path under the data root (minari's layout,
    `namespace/name-vN`, refused unless valid, as minari's listing would), or elsewhere its directory name
    (with `-v0` added where it has no version)."""
    from minari.dataset.minari_dataset import DATASET_ID_RE

    path, root = Path(path).absolute(), data_dir().absolute()
    if not path.is_relative_to(root):
        name = re.sub(r"[^\w-]", "_", path.name)
        return name if re.search(r"-v\d+$", name) else f"{name}-v0"
    dataset_id = path.relative_to(root).as_posix()
    if not DATASET_ID_RE.fullmatch(dataset_id) or not re.search(r"-v\d+$", dataset_id):
        raise DatasetError(f"'{dataset_id}' is not a Minari dataset id: name the directory <name>-v<N> "
                           "(letters, digits, '-', '_'), e.g. my-data-v0.")
    return dataset_id


def minari_metadata(dataset_id: str, metadata: dict) -> dict:
    """What minari's public API needs beside the storage's own keys; anypolicy's metadata rides along as JSON."""
    import minari

    return {"dataset_id": dataset_id, "minari_version": minari.__version__,
            "algorithm_name": str(metadata.get("source", "anypolicy")),
            "description": f"written by anypolicy: {metadata.get('name', dataset_id)}",
            "anypolicy": json.dumps(metadata)}


def write_minari(path: Path, episodes: list[dict], observation_space, action_space, metadata: dict,
                 env_spec=None) -> Path:
    """Write episodes as a Minari dataset at `path` (a directory holding `data/`), atomically. `env_spec`: the
    Gymnasium spec of the environment that made the data (minari's `recover_environment` makes it again)."""
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    path = Path(path)
    dataset_id = minari_id(path)
    with atomic_directory(path) as tmp:
        storage = MinariStorage.new(tmp / "data", observation_space=observation_space,
                                    action_space=action_space, env_spec=env_spec, jpeg_encoding=False)
        storage.update_metadata(minari_metadata(dataset_id, metadata))
        storage.update_episodes(EpisodeBuffer(id=i, **ep) for i, ep in enumerate(episodes))
    return path


def upgrade_metadata(path: Path) -> None:
    """A cache written before the files carried minari's required keys gets them (metadata.json only, replaced
    atomically), so minari's API opens it without regenerating the data."""
    file = Path(path) / "data" / "metadata.json"
    raw = json.loads(file.read_text())
    if "minari_version" in raw:
        return
    try:
        dataset_id = minari_id(path)
    except DatasetError:
        return  # not at a Minari id: readable by anypolicy, left as it is
    metadata = json.loads(raw.get("anypolicy", "{}"))
    raw.update(minari_metadata(dataset_id, metadata))
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(json.dumps(raw))
    os.replace(tmp, file)


def read_minari(path: Path) -> Dataset:
    """A Minari dataset directory: one anypolicy wrote, or one minari made (`DataCollector`,
    `create_dataset_from_buffers`); Dict observations are flattened in the space's key order."""
    from minari.dataset.minari_storage import MinariStorage

    path = Path(path)
    if not is_minari_dir(path):
        raise DatasetError(f"{path} is not a Minari dataset (no data/metadata.json inside).")
    if os.access(path / "data", os.W_OK):
        upgrade_metadata(path)
    try:
        storage = MinariStorage.read(path / "data")
        raw = MinariStorage.read_raw_metadata(path / "data")
        episodes = list(storage.get_episodes(range(storage.total_episodes)))
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file gets one clear message
        raise DatasetError(f"{path} could not be read as a Minari dataset ({type(exc).__name__}: {exc}).") from None
    metadata = json.loads(raw.get("anypolicy", "{}"))
    metadata.setdefault("name", raw.get("dataset_id", path.name))
    space = storage.action_space
    if not hasattr(space, "low"):
        raise DatasetError(f"{path}: the action space is {type(space).__name__}; anypolicy trains on Box actions.")
    obs_space = storage.observation_space
    if hasattr(obs_space, "spaces") and isinstance(obs_space.spaces, dict):
        keys = list(obs_space.spaces)
        episodes = [{**ep, "observations": flatten_dict_observations(ep["observations"], keys)} for ep in episodes]
    return from_episodes(episodes, space.low, space.high, metadata)


def flatten_dict_observations(obs: dict, keys: list[str]) -> np.ndarray:
    """Dict observations (arrays [T, ...] per key) as one float32 array [T, D]: the keys' values flattened
    and concatenated in the order given, the same rule as evaluation's (envs/registry.py)."""
    missing = [k for k in keys if k not in obs]
    if missing:
        raise DatasetError(f"dict observations lack key(s) {', '.join(missing)}; they have {', '.join(obs)}.")
    parts = [np.asarray(obs[k], dtype=np.float32) for k in keys]
    return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)


def save_dataset(dataset: Dataset, path: Path) -> Path:
    """Store any Dataset in the Minari format. A Minari episode needs next_observations[t] ==
    observations[t + 1], so an episode is split where that breaks; its id and timeouts travel in the infos."""
    import gymnasium as gym

    d = dataset
    same_episode = d.episode_ids[1:] == d.episode_ids[:-1]
    continuous = (d.next_observations[:-1] == d.observations[1:]).reshape(len(d) - 1, -1).all(1)
    starts = np.flatnonzero(np.r_[True, ~(same_episode & continuous)])
    extras = {**d.extras, "_episode_id": d.episode_ids, "_timeout": d.timeouts}
    episodes = []
    for s, e in zip(starts, np.r_[starts[1:], len(d)]):
        obs = np.concatenate([d.observations[s:e], d.next_observations[e - 1:e]])
        infos = {k: np.concatenate([v[s:e], v[e - 1:e]]) for k, v in extras.items()}
        episodes.append(dict(observations=obs, actions=d.actions[s:e], rewards=d.rewards[s:e],
                             terminations=d.terminals[s:e], truncations=d.timeouts[s:e], infos=infos))
    obs_space = gym.spaces.Box(-np.inf, np.inf, d.observations.shape[1:], np.float32)
    act_space = gym.spaces.Box(d.action_low, d.action_high, dtype=np.float32)
    return write_minari(path, episodes, obs_space, act_space, d.metadata)


# ---------------------------------------------------------------------- imports
def _require(file, keys, path, fmt):
    missing = [k for k in keys if k not in file]
    if missing:
        raise DatasetError(f"{path} is not a valid {fmt} file: missing {', '.join(missing)}.")


def _bounds(low, high, shape) -> tuple[np.ndarray, np.ndarray]:
    return (np.broadcast_to(np.float32(low), shape).copy(), np.broadcast_to(np.float32(high), shape).copy())


def read_ogbench_npz(path: Path, action_low=-1.0, action_high=1.0) -> Dataset:
    """OGBench's layout: per-step observations/actions with `terminals` marking each episode's last step."""
    try:
        file = np.load(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise DatasetError(f"{path} could not be read as an OGBench .npz file ({exc}).") from None
    _require(file, ("observations", "actions", "terminals"), path, "OGBench .npz")
    obs, act = file["observations"].astype(np.float32), file["actions"].astype(np.float32)
    ends = file["terminals"].astype(bool)
    if not (len(obs) == len(act) == len(ends)):
        raise DatasetError(f"{path}: observations, actions and terminals have different lengths "
                           f"({len(obs)}, {len(act)}, {len(ends)}).")
    if len(obs) == 0:
        raise DatasetError(f"{path} is empty: it holds no transitions.")
    ep = np.r_[0, np.cumsum(ends)[:-1]]
    valid = ~ends  # the last state of each episode has no next state
    nxt = np.concatenate([obs[1:], obs[-1:]])
    extras = {k: file[k][valid] for k in ("qpos", "qvel", "button_states") if k in file}
    n = int(valid.sum())
    low, high = _bounds(action_low, action_high, act.shape[1:])
    return Dataset(observations=obs[valid], actions=act[valid], rewards=np.zeros(n, np.float32),
                   next_observations=nxt[valid], terminals=np.zeros(n, bool),
                   timeouts=np.r_[ends[1:], True][valid], episode_ids=ep[valid].astype(np.int64),
                   action_low=low, action_high=high, extras=extras,
                   metadata={"name": Path(path).stem, "source": f"ogbench-npz:{path}"})


def read_d4rl_hdf5(path: Path, action_low=-1.0, action_high=1.0) -> Dataset:
    """D4RL's layout: flat observations/actions/rewards/terminals/timeouts (+ next_observations if present)."""
    import h5py

    try:
        file = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(f"{path} could not be read as an HDF5 file ({exc}).") from None
    with file:
        _require(file, ("observations", "actions", "rewards", "terminals"), path, "D4RL HDF5")
        obs = file["observations"][:].astype(np.float32)
        act = file["actions"][:].astype(np.float32)
        rew = file["rewards"][:].astype(np.float32).reshape(-1)
        term = file["terminals"][:].astype(bool).reshape(-1)
        timeouts = file["timeouts"][:].astype(bool).reshape(-1) if "timeouts" in file else np.zeros_like(term)
        nxt = file["next_observations"][:].astype(np.float32) if "next_observations" in file else None
    n = len(obs)
    if not (len(act) == len(rew) == len(term) == len(timeouts) == n):
        raise DatasetError(f"{path}: observations, actions, rewards, terminals and timeouts have different "
                           f"lengths ({n}, {len(act)}, {len(rew)}, {len(term)}, {len(timeouts)}).")
    if n == 0:
        raise DatasetError(f"{path} is empty: it holds no transitions.")
    if nxt is None:  # D4RL v2 files: next state is the following row, except across episode ends
        nxt = np.concatenate([obs[1:], obs[-1:]])
        keep = ~timeouts
        keep[-1] = keep[-1] & term[-1]
    else:
        keep = np.ones(n, bool)
    ends = term | timeouts
    ep = np.r_[0, np.cumsum(ends)[:-1]].astype(np.int64)
    trunc = timeouts.copy()
    if n:
        trunc[-1] |= not term[-1]
    low, high = _bounds(action_low, action_high, act.shape[1:])
    return Dataset(observations=obs[keep], actions=act[keep], rewards=rew[keep], next_observations=nxt[keep],
                   terminals=term[keep], timeouts=trunc[keep], episode_ids=ep[keep], action_low=low,
                   action_high=high, metadata={"name": Path(path).stem, "source": f"d4rl-hdf5:{path}"})


def read_any(path: str | Path, fmt: str | None = None) -> Dataset:
    """Read a dataset file or directory, guessing the format from its shape unless `fmt` is given."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no dataset at {path}: the path does not exist.")
    fmt = fmt or ("minari" if path.is_dir() else {".npz": "ogbench", ".hdf5": "d4rl", ".h5": "d4rl"}.get(path.suffix))
    if fmt == "minari":
        return read_minari(path)
    if fmt == "ogbench":
        return read_ogbench_npz(path)
    if fmt == "d4rl":
        return read_d4rl_hdf5(path)
    raise DatasetError(f"cannot tell the format of {path}: use a Minari directory, an OGBench .npz or a D4RL "
                       ".hdf5 file (or pass --format minari|ogbench|d4rl).")
