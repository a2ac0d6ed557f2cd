"""Learning from pixels, the pieces: uint8 frame storage (round trip, memory, frame stacks inside episodes),
random-shift augmentation and the image encoders."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from anypolicy.data.dataset import DatasetError
from anypolicy.data.frames import FrameStore
from anypolicy.nets.encoders import ImpalaEncoder, ResNet18Encoder, random_shift, to_float


def episodes(lengths=(30, 20), size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(t + 1, size, size, 3), dtype=np.uint8) for t in lengths]


def test_frames_round_trip_as_uint8_in_about_n_images_of_memory():
    eps = episodes((300, 200), size=64)
    store = FrameStore.from_episodes(eps)
    n = len(store)
    assert n == 500 and store.frames.dtype == np.uint8
    idx = np.arange(n)
    flat = np.concatenate([e[:-1] for e in eps]), np.concatenate([e[1:] for e in eps])
    assert np.array_equal(store.observations(idx), flat[0].transpose(0, 3, 1, 2))
    assert np.array_equal(store.next_observations(idx), flat[1].transpose(0, 3, 1, 2))
    per_image = 64 * 64 * 3
    assert store.nbytes < 1.01 * n * per_image  # N images (+ one final frame per episode, + indices)
    assert store.nbytes < 0.13 * (2 * 4 * n * per_image)  # not float32 observations and next observations


def test_frame_stacks_repeat_the_first_frame_and_never_cross_episodes():
    eps = episodes((5, 4))
    store = FrameStore.from_episodes(eps)
    chw = [e.transpose(0, 3, 1, 2) for e in eps]
    stack = store.observations(np.array([0, 2, 5, 6]), stack=3)  # transitions 5, 6 are the second episode's 0, 1
    assert stack.shape == (4, 9, 16, 16)
    expect = [(0, 0, 0), (0, 1, 2)]
    for row, frames in zip(stack[:2], expect):
        assert np.array_equal(row, np.concatenate([chw[0][f] for f in frames]))
    assert np.array_equal(stack[2], np.concatenate([chw[1][0]] * 3))
    assert np.array_equal(stack[3], np.concatenate([chw[1][0], chw[1][0], chw[1][1]]))
    nxt = store.next_observations(np.array([4]), stack=2)  # last transition of episode 0: frames 4, 5
    assert np.array_equal(nxt[0], np.concatenate([chw[0][4], chw[0][5]]))
    dev = store.to("cpu")
    obs, next_obs = dev.batch(torch.tensor([0, 2, 5, 6]), stack=3)
    assert obs.dtype == torch.uint8 and np.array_equal(obs.numpy(), stack)
    assert np.array_equal(next_obs.numpy(), store.next_observations(np.array([0, 2, 5, 6]), stack=3))


def test_frames_refuse_float_images_and_empty_episodes():
    with pytest.raises(DatasetError, match="uint8"):
        FrameStore.from_episodes([np.zeros((3, 8, 8, 3), np.float32)])
    with pytest.raises(DatasetError, match="at least one transition"):
        FrameStore.from_episodes([np.zeros((1, 8, 8, 3), np.uint8)])


def test_random_shift_is_a_crop_of_the_padded_image_and_the_identity_at_pad_0():
    images = torch.randint(0, 256, (32, 6, 16, 16), dtype=torch.uint8)
    assert random_shift(images, pad=0) is images
    out = random_shift(images, pad=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images.float(), (4,) * 4, mode="replicate")
    offsets = []
    for b in range(32):
        found = [(dy, dx) for dy in range(9) for dx in range(9)
                 if torch.equal(padded[b, :, dy:dy + 16, dx:dx + 16].to(torch.uint8), out[b])]
        assert found, b  # every output is one crop (all channels shifted together)
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # offsets differ between images


def test_encoders_map_stacked_uint8_frames_to_features():
    images = torch.randint(0, 256, (4, 9, 64, 64), dtype=torch.uint8)  # 3 stacked RGB frames
    assert to_float(images).min() >= -0.5 and to_float(images).max() <= 0.5
    for cls in (ImpalaEncoder, ResNet18Encoder):
        enc = cls(in_channels=9, image_size=64, features=128)
        out = enc(images)
        assert out.shape == (4, 128) and torch.isfinite(out).all()
        out.sum().backward()
        assert all(p.grad is not None for p in enc.parameters())
    n_params = sum(p.numel() for p in ResNet18Encoder(3, 64).parameters())
    assert 10e6 < n_params < 12e6  # ResNet-18's ~11M convolution weights (a 256-feature head instead of fc)
