"""Checkpoints: tensors in safetensors, everything else in JSON, written to a temporary directory and
renamed into place so that a kill never leaves a half-written checkpoint. No pickle anywhere."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from anypolicy.atomic import atomic_directory

TENSOR = "__tensor__:"


def flatten(obj, prefix: str, tensors: dict):
    """Replace every tensor in a nested dict/list by a reference into `tensors`; the rest stays JSON."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().cpu().contiguous()
        return TENSOR + key
    if isinstance(obj, dict):
        # pairs rather than a JSON object, so that int keys (optimizer states) stay ints
        return {"__dict__": [[k, flatten(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    return obj


def unflatten(obj, tensors: dict, device=None):
    if isinstance(obj, str) and obj.startswith(TENSOR):
        t = tensors[obj[len(TENSOR):]]
        return t.to(device) if device is not None else t
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten(v, tensors, device) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten(v, tensors, device) for v in obj]
    return obj


def save_checkpoint(directory: Path, weights: dict[str, torch.Tensor], state: dict) -> Path:
    """Write `weights` (a flat state_dict) and `state` (nested: optimizers, RNG, step...) atomically."""
    with atomic_directory(directory) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp / "weights.safetensors"))
        tensors: dict = {}
        meta = flatten(state, "state", tensors)
        save_file(tensors, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps(meta))
    return Path(directory)


def load_checkpoint(directory: Path, device=None) -> tuple[dict[str, torch.Tensor], dict]:
    directory = Path(directory)
    weights = load_file(str(directory / "weights.safetensors"), device=str(device or "cpu"))
    tensors = load_file(str(directory / "state.safetensors"))
    state = unflatten(json.loads((directory / "state.json").read_text()), tensors)
    return weights, state


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted(p for p in (Path(run_dir) / "checkpoints").glob("step_*") if (p / "state.json").exists())
    return ckpts[-1] if ckpts else None
