"""GFLOP/s of the products an update is made of (a batched 256x256 ensemble layer, batch 7680 = 256 states x 30
actions, two heads) in fp32 and in bf16 on this CPU, one thread, and what precision=auto chooses here: the
figure behind choosing bf16 only where the CPU has native bf16 (docs/results/throughput.md).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/matmul_precision.py --out docs/results/raw/matmul-precision-<cpu>.json
"""
import argparse
import json
import statistics
import time

import torch

from anypolicy.hardware import cpu_info, native_bf16, resolve_precision


def gflops(dtype, rows=7680, width=256, heads=2, repeats=5, calls=10) -> list[float]:
    x, w, b = (torch.randn(heads, rows, width, dtype=dtype), torch.randn(heads, width, width, dtype=dtype),
               torch.randn(heads, 1, width, dtype=dtype))
    torch.baddbmm(b, x, w)  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.baddbmm(b, x, w)
        out.append(2 * heads * rows * width * width * calls / (time.perf_counter() - t0) / 1e9)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    rates = {"fp32": gflops(torch.float32), "bf16": gflops(torch.bfloat16, calls=2)}
    result = {"cpu": cpu_info()["model"], "cpu_capability": cpu_info()["torch_capability"],
              "native_bf16": native_bf16(cpu), "auto_chooses": resolve_precision("auto", cpu), "torch": torch.__version__,
              "median_gflops": {k: round(statistics.median(v), 2) for k, v in rates.items()},
              "all_gflops": {k: [round(x, 2) for x in v] for k, v in rates.items()}}
    result["bf16_over_fp32"] = round(result["median_gflops"]["bf16"] / result["median_gflops"]["fp32"], 3)
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
