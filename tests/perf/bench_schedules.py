"""Time learning-rate schedules: whole-run previews, the per-step lookup a run makes, and
one far step of a fresh schedule (what a preview of a huge run asks).

    python tests/perf/bench_schedules.py        # in the project venv; torch side by side if
                                                # it is installed

Knobs are chosen so that every recursion spans the full million steps (the worst case: a
horizon shorter than the curve makes the tail a constant fill). Prints seconds; not a test
(tests/engine/test_schedules.py checks the bounded work: one closed-form value for a far step).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import schedules

N = 1_000_000
WORST = {
    "constant": {},
    "step": {"step_size": 1, "gamma": 0.999999},
    "multistep": {"milestones": "100000, 500000, 900000"},
    "exponential": {"gamma": 0.999999},
    "cosine": {"total_steps": N, "min_lr": 1e-4},
    "cosine-restarts": {"period": 1000, "period_mult": 1, "min_lr": 1e-4},
    "warmup": {"warmup_steps": N, "start_factor": 0.01},
    "warmup-cosine": {"warmup_steps": 1000, "total_steps": N, "min_lr": 1e-4},
    "onecycle": {"total_steps": N},
    "polynomial": {"total_steps": N, "power": 1.7},
    "plateau": {},
}


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(name: str, knobs: dict) -> tuple[float, float]:
    """(seconds for curve(N), nanoseconds per lr(step) call in a run-like loop)."""
    preview = best_of(lambda: schedules.create(name, 0.1, **knobs).curve(N))
    sched = schedules.create(name, 0.1, **knobs)
    lr = sched.lr
    t0 = time.perf_counter()
    for step in range(N):
        lr(step)
    return preview, (time.perf_counter() - t0) / N * 1e9


def main() -> None:
    print(f"{'schedule':16s} {'curve(1e6) s':>13s} {'run loop lr(step) ns/step':>27s}")
    for name, knobs in WORST.items():
        preview, per_step = bench(name, knobs)
        print(f"{name:16s} {preview:13.3f} {per_step:27.0f}")
    extra = schedules.create("cosine", 0.1, total_steps=N, min_lr=0.0)
    print(f"{'cosine, min_lr=0':16s} {best_of(lambda: extra.curve(N)):13.3f}")

    print(f"\n{'schedule':16s} {'fresh lr(10**12) us':>20s} {'fresh lr(EXACT-1) ms':>21s}")
    far = {name: {**knobs} for name, knobs in WORST.items()}
    for knobs in far.values():  # horizons past 10**12: the far step is not a held value
        for key in ("total_steps", "warmup_steps"):
            if key in knobs:
                knobs[key] = 2**62
    far["warmup-cosine"]["warmup_steps"] = 1000
    for name, knobs in far.items():

        def fresh(_name: str = name, _knobs: dict = knobs) -> schedules.Schedule:
            return schedules.create(_name, 0.1, **_knobs)

        t_make = best_of(fresh, repeat=5)
        t_far = best_of(lambda f=fresh: f().lr(10**12), repeat=5) - t_make
        t_new = best_of(lambda f=fresh: f().lr(schedules.EXACT_STEPS - 1)) - t_make
        print(f"{name:16s} {t_far * 1e6:20.1f} {t_new * 1e3:21.2f}")
    t0 = time.perf_counter()
    schedules.create("cosine", 0.1, total_steps=2**62).lr(10**8)
    print(f"cosine(total_steps=2**62).lr(10**8): {(time.perf_counter() - t0) * 1e6:.0f} us")

    try:
        import torch
    except ImportError:
        print("torch not installed: skipping the side-by-side")
        return
    warnings.simplefilter("ignore")  # torch's "scheduler.step() before optimizer.step()"
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=N, eta_min=1e-4)
    steps = 100_000
    t0 = time.perf_counter()
    for _ in range(steps):
        sched.step()
        sched.get_last_lr()
    per = (time.perf_counter() - t0) / steps
    print(f"torch CosineAnnealingLR.step(): {per * 1e9:.0f} ns/step -> {per * N:.2f} s for 1e6")


if __name__ == "__main__":
    main()
