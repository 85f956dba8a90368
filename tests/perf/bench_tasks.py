"""Time one loss_and_grads call per task (digits-mlp batch 32 is the run benchmark's hot path).

Run: python tests/perf/bench_tasks.py   (prints figures; asserts nothing)

With torch importable (the global python3 has it), the same 64-128-10 forward/backward in
torch is timed side by side: `python3 tests/perf/bench_tasks.py` from the repository root.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import tasks


def per_call(fn, min_time: float = 0.3) -> float:
    """Best-of-5 mean seconds per call of fn()."""
    n = 1
    while True:  # calibrate the loop length
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > min_time / 5:
            break
        n *= 2
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def bench_task(name: str, dtype: str, preallocated: bool, **hypers) -> float:
    task = tasks.create(name, dtype=dtype, **hypers)
    rng = np.random.default_rng(0)
    params = task.init_params(rng)
    batch = next(task.batches(rng))
    if preallocated:
        # One flat buffer with per-key views, as a run's fast path may hold them.
        shapes = task.param_shapes()
        flat = np.zeros(sum(int(np.prod(s)) for s in shapes.values()), dtype=dtype)
        grads, offset = {}, 0
        for key, shape in shapes.items():
            size = int(np.prod(shape))
            grads[key] = flat[offset : offset + size].reshape(shape)
            offset += size
        return per_call(lambda: task.loss_and_grads(params, batch, grads))
    return per_call(lambda: task.loss_and_grads(params, batch))


def bench_batches(name: str, **hypers) -> float:
    task = tasks.create(name, **hypers)
    it = task.batches(np.random.default_rng(0))
    return per_call(lambda: next(it))


def bench_torch(dtype: str) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10)
    ).to(tdtype)
    task = tasks.create("digits-mlp", dtype=dtype)
    X, Y = next(task.batches(np.random.default_rng(0)))
    xb = torch.from_numpy(X)
    yb = torch.from_numpy(Y.argmax(axis=1))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        model.zero_grad(set_to_none=False)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        loss.item()

    return per_call(step)


def main() -> None:
    print("loss_and_grads, microseconds per call (best of 5)")
    for dtype in ("float64", "float32"):
        pre = bench_task("digits-mlp", dtype, True)
        alloc = bench_task("digits-mlp", dtype, False)
        line = f"  digits-mlp 64-128-10 batch 32 {dtype}: {pre * 1e6:7.1f} (grads=preallocated)"
        line += f"  {alloc * 1e6:7.1f} (grads=None)"
        torch_time = bench_torch(dtype)
        if torch_time is not None:
            line += f"  torch fwd+bwd {torch_time * 1e6:7.1f} ({torch_time / pre:.1f}x)"
        print(line)
    print(f"  digits-mlp next(batches) batch 32: {bench_batches('digits-mlp') * 1e6:7.1f}")
    others = [
        ("linear-regression", {}),
        ("quadratic", {}),
        ("rosenbrock", {}),
        ("rosenbrock", {"grad_noise": 0.1}),
        ("binary-mlp", {}),
        ("blobs-mlp", {}),
        ("sine-rnn", {}),
    ]
    for name, hypers in others:
        t = bench_task(name, "float64", True, **hypers)
        print(f"  {name} {hypers or ''} float64: {t * 1e6:7.1f}")


if __name__ == "__main__":
    main()
