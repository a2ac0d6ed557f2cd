"""Image encoders and augmentation for learning from pixels (written here: torchvision does not import beside
the CPU torch build).

Images arrive as uint8 [B, C, H, W] (C = 3 x stacked frames) and are scaled to [-0.5, 0.5] on the device by
the encoder itself, so datasets and batches stay uint8 (4x less memory than float32).

    ImpalaEncoder    IMPALA's stacks: conv 3x3 -> max-pool 3x3 stride 2 -> two residual blocks, per stack
                     (channels 16, 32, 32), then ReLU, flatten and a linear layer to `features`.
    ResNet18Encoder  ResNet-18's layout (a stem, four stages of two basic blocks, 64-128-256-512 channels,
                     stride 2 from the second stage), GroupNorm instead of BatchNorm (batch statistics
                     misbehave in RL), global average pooling and a linear layer to `features`.
    random_shift     DrQ's augmentation: replicate-pad by `pad` pixels and crop back at a random offset
                     per image; the identity at pad 0.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-0.5, 0.5]; float input is taken as already scaled."""
    return images.float() / 255.0 - 0.5 if images.dtype == torch.uint8 else images


def random_shift(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image shifted by a random integer offset in [-pad, pad] per axis, edges replicated (DrQ)."""
    if pad == 0:
        return images
    b, c, h, w = images.shape
    padded = F.pad(images.float() if images.dtype == torch.uint8 else images, (pad,) * 4, mode="replicate")
    dev = images.device
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=generator,
                           device=generator.device if generator else dev).to(dev)
    rows = dy[:, None] + torch.arange(h, device=dev)  # [B, H]
    cols = dx[:, None] + torch.arange(w, device=dev)  # [B, W]
    out = padded[torch.arange(b, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return out.to(images.dtype)


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ImpalaEncoder(nn.Module):
    def __init__(self, in_channels: int = 3, image_size: int = 64, features: int = 256,
                 channels: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        layers, c = [], in_channels
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1), _Residual(out), _Residual(out)]
            c = out
        self.stacks = nn.Sequential(*layers)
        side = image_size
        for _ in channels:
            side = (side + 1) // 2
        self.head = nn.Linear(c * side * side, features)
        self.features = features

    def forward(self, images):
        return F.relu(self.head(F.relu(self.stacks(to_float(images))).flatten(1)))


class _Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm1, self.norm2 = nn.GroupNorm(8, c_out), nn.GroupNorm(8, c_out)
        self.down = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.GroupNorm(8, c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        return F.relu(self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x))))) + self.down(x))


class ResNet18Encoder(nn.Module):
    def __init__(self, in_channels: int = 3, image_size: int = 64, features: int = 256,
                 widths: tuple[int, ...] = (64, 128, 256, 512)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.GroupNorm(8, widths[0]),
                                  nn.ReLU())  # 3x3 stride 1: 64x64 inputs are small (ImageNet's 7x7/2 + pool would lose them)
        blocks, c = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [_Basic(c, w, 1 if i == 0 else 2), _Basic(w, w, 1)]
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, features)
        self.features = features

    def forward(self, images):
        x = self.blocks(self.stem(to_float(images)))
        return F.relu(self.head(x.mean(dim=(2, 3))))


ENCODERS = {"impala": ImpalaEncoder, "resnet18": ResNet18Encoder}


def make_encoder(name: str, in_channels: int, image_size: int, features: int = 256) -> nn.Module:
    if name not in ENCODERS:
        from anypolicy.config import ConfigError

        raise ConfigError(f"unknown image encoder '{name}'; choose one of {', '.join(ENCODERS)}.")
    return ENCODERS[name](in_channels, image_size, features)


class PixelInput(nn.Module):
    """uint8 images [B, C, H, W] -> features [B, F]: DrQ's random shift while training, then the encoder.
    A recipe calls it once per batch of states; everything after it (k sampled actions, T gradient steps on
    them) works on the features. With a `policy_encoder` (separate encoders) the policy's features of the same
    shifted images ride along on the returned tensor as `.policy_view` (Agent.policy_input hands them to the
    policy), so the recipes keep passing one `obs` around."""

    def __init__(self, encoder: nn.Module, pad: int = 4, policy_encoder: nn.Module | None = None):
        super().__init__()
        self.encoder, self.pad, self.policy_encoder = encoder, pad, policy_encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"image observations must be uint8 [B, C, H, W], got {images.dtype}.")
        images = random_shift(images, self.pad) if self.training else images
        features = self.encoder(images)
        if self.policy_encoder is not None:
            features.policy_view = self.policy_encoder(images)
        return features
