"""Image observations stored once, as uint8: each episode's T + 1 frames in one array, transitions pointing
into it (observation = frame t, next observation = frame t + 1), frame stacks built by indexing. A dataset
of N transitions of H x W x C images takes about N * H * W * C bytes, instead of 2 x 4 x that for float32
observations and next observations stored apart.
"""
from __future__ import annotations

import numpy as np
import torch

from anypolicy.data.dataset import DatasetError


class FrameStore:
    """frames [F, C, H, W] uint8; for transition i, frame obs_index[i] (its next frame is obs_index[i] + 1);
    episode_start[i]: the first frame of its episode (stacks do not reach into the previous episode)."""

    def __init__(self, frames: np.ndarray, obs_index: np.ndarray, episode_start: np.ndarray):
        if frames.dtype != np.uint8 or frames.ndim != 4:
            raise DatasetError(f"frames must be uint8 [F, C, H, W], got {frames.dtype} {frames.shape}.")
        self.frames, self.obs_index, self.episode_start = frames, obs_index.astype(np.int64), episode_start.astype(np.int64)

    @classmethod
    def from_episodes(cls, episodes: list[np.ndarray], channels_last: bool = True) -> "FrameStore":
        """Episodes of T + 1 images each ([T + 1, H, W, C] uint8, or [T + 1, C, H, W] with channels_last=False)."""
        frames, index, starts, offset = [], [], [], 0
        for i, ep in enumerate(episodes):
            ep = np.asarray(ep)
            if ep.dtype != np.uint8:
                raise DatasetError(f"episode {i}: images must be uint8 (0-255), got {ep.dtype}.")
            if len(ep) < 2:
                raise DatasetError(f"episode {i}: {len(ep)} frames; an episode needs at least one transition (2 frames).")
            frames.append(np.ascontiguousarray(ep.transpose(0, 3, 1, 2)) if channels_last else ep)
            t = len(ep) - 1
            index.append(offset + np.arange(t))
            starts.append(np.full(t, offset))
            offset += len(ep)
        return cls(np.concatenate(frames), np.concatenate(index), np.concatenate(starts))

    def __len__(self) -> int:
        return len(self.obs_index)

    @property
    def nbytes(self) -> int:
        return self.frames.nbytes + self.obs_index.nbytes + self.episode_start.nbytes

    def stacked(self, frame_ids: np.ndarray, starts: np.ndarray, stack: int) -> np.ndarray:
        """[B, stack * C, H, W]: frames id - stack + 1 .. id, repeating the episode's first frame before it."""
        offsets = np.arange(-stack + 1, 1)
        ids = np.maximum(frame_ids[:, None] + offsets, starts[:, None])  # [B, stack]
        b, (c, h, w) = len(frame_ids), self.frames.shape[1:]
        return self.frames[ids].reshape(b, stack * c, h, w)

    def observations(self, idx: np.ndarray, stack: int = 1) -> np.ndarray:
        return self.stacked(self.obs_index[idx], self.episode_start[idx], stack)

    def next_observations(self, idx: np.ndarray, stack: int = 1) -> np.ndarray:
        return self.stacked(self.obs_index[idx] + 1, self.episode_start[idx], stack)

    def to(self, device) -> "DeviceFrames":
        return DeviceFrames(self, device)


class DeviceFrames:
    """The same store as uint8 tensors on the training device; batches are gathered there (no host copy)."""

    def __init__(self, store: FrameStore, device):
        self.frames = torch.as_tensor(store.frames, device=device)
        self.obs_index = torch.as_tensor(store.obs_index, device=device)
        self.episode_start = torch.as_tensor(store.episode_start, device=device)

    def stacked(self, frame_ids: torch.Tensor, starts: torch.Tensor, stack: int) -> torch.Tensor:
        offsets = torch.arange(-stack + 1, 1, device=frame_ids.device)
        ids = torch.maximum(frame_ids[:, None] + offsets, starts[:, None])
        b, (c, h, w) = len(frame_ids), self.frames.shape[1:]
        return self.frames[ids].reshape(b, stack * c, h, w)

    def batch(self, idx: torch.Tensor, stack: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(observations, next_observations) uint8 [B, stack * C, H, W] of transitions idx."""
        frame, start = self.obs_index[idx], self.episode_start[idx]
        return self.stacked(frame, start, stack), self.stacked(frame + 1, start, stack)
