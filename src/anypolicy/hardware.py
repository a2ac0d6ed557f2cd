"""What the machine can do fast, found at start-up: the choices whose benefit depends on the hardware
(`precision=auto`) are made here and recorded in each run's config.json."""
from __future__ import annotations

import os
import platform
import shutil
from functools import lru_cache

import torch

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX-512 BF16 (Zen 4+, Cooper Lake+), AMX
# (Sapphire Rapids+), Arm's BF16 extension. Without one, autocast's bf16 products are emulated and run slower
# than fp32 (docs/results/throughput.md: 0.58-0.90x of fp32 eager on an AVX-512 Xeon without avx512_bf16).
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """The CPU's model name and feature flags (empty flags where /proc/cpuinfo does not exist)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())  # the first core's values
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = (fields.get("flags") or fields.get("features") or "").split()  # x86 or Arm
    return {"model": model, "flags": sorted(flags), "torch_capability": torch.backends.cpu.get_cpu_capability()}


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices natively (a GPU of compute capability 8.0 or later; a CPU
    with one of BF16_FLAGS); the environment variable ANYPOLICY_NATIVE_BF16=0/1 overrides the answer."""
    forced = os.environ.get("ANYPOLICY_NATIVE_BF16")  # "0" or "1" overrides the detection (the tests pin 0)
    if forced in ("0", "1"):
        return forced == "1"
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    return any(flag in cpu_info()["flags"] for flag in BF16_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`: bf16 products where the device has native bf16, fp32 elsewhere; fp32 and bf16 stay as asked."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


# Below this many updates torch.compile's warm-up cannot be repaid by its faster fused steps, so `compile=auto`
# stays eager without timing. Measured on one Zen 3 core (4x256 nets, the other core busy): 77 s to compile IQL,
# 49 s for TD3+BC; at TD3+BC's 1.18x gain (docs/results/throughput.md) that is repaid after ~8,000 updates.
COMPILE_MIN_STEPS = 10_000


def cxx_compiler() -> str | None:
    """The C++ compiler inductor would build CPU kernels with ($CXX, else g++, c++ or clang++), or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def resolve_compile(compile: bool | None, device: torch.device, fuses_steps: bool, steps: int) -> bool | None:
    """`None` (auto): eager on a GPU (the captured CUDA graph plays that part), for recipes whose optimizer steps do
    not fuse into one graph each, for runs too short to repay the warm-up and without a C++ compiler; else None
    still, and the run times both updates at its start (train/autocompile.py)."""
    if compile is not None:
        return compile
    if device.type != "cpu" or not fuses_steps or steps < COMPILE_MIN_STEPS or cxx_compiler() is None:
        return False
    return None


def machine(device: torch.device) -> dict:
    """What a run's config.json records of the machine it started on."""
    info = {"device": str(device), "native_bf16": native_bf16(device), "cpu": cpu_info()["model"],
            "cpu_capability": cpu_info()["torch_capability"], "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def resolve_device(name: str) -> torch.device:
    """`auto`: the GPU where torch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
