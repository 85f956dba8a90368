"""Generate tests/engine/fixtures/schedules.npz: learning-rate curves from torch's schedulers.

Run with a Python that has torch 2.13.0 (not the project venv):

    python3 tests/engine/make_schedule_fixtures.py

For every optplay schedule with a torch twin it draws knob sets from a seeded RNG (plus a few
hand-written edge cases), builds the torch scheduler on a one-parameter SGD optimizer and
records `get_last_lr()[0]` after the constructor and after each of n - 1 `scheduler.step()`
calls: element k is the rate of update k + 1, which is optplay's `lr(k)`. Curves run up to
10,000 steps; to keep the file small we store a subset of indices (the first and last 128,
every point around the schedule's breakpoints and 128 random ones), which still checks the
whole recursion because every stored value depends on all earlier steps.

`plateau` cases store a loss sequence and the rate after each `scheduler.step(loss)`.

The file holds JSON case descriptions (`cases`) and per case `idx_<i>` (uint16 steps),
`lr_<i>` (float64 rates) and, for plateau, `loss_<i>` (float64 losses).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler as tl

OUT = Path(__file__).parent / "fixtures" / "schedules.npz"
SEED = 20260521
MAX_N = 10_000
KEEP_EDGE = 128  # first/last points stored
KEEP_RANDOM = 128  # random interior points stored


def torch_scheduler(name: str, opt: torch.optim.Optimizer, k: dict[str, Any]) -> Any:
    """The torch twin of optplay schedule `name` with optplay's knob names `k`."""
    if name == "step":
        return tl.StepLR(opt, step_size=k["step_size"], gamma=k["gamma"])
    if name == "multistep":
        return tl.MultiStepLR(opt, milestones=list(k["milestones"]), gamma=k["gamma"])
    if name == "exponential":
        return tl.ExponentialLR(opt, gamma=k["gamma"])
    if name == "cosine":
        return tl.CosineAnnealingLR(opt, T_max=k["total_steps"], eta_min=k["min_lr"])
    if name == "cosine-restarts":
        assert k.get("peak_decay", 1.0) == 1.0
        return tl.CosineAnnealingWarmRestarts(
            opt, T_0=k["period"], T_mult=k["period_mult"], eta_min=k["min_lr"]
        )
    if name == "warmup":
        return tl.LinearLR(
            opt, start_factor=k["start_factor"], end_factor=1.0, total_iters=k["warmup_steps"]
        )
    if name == "onecycle":
        return tl.OneCycleLR(
            opt,
            max_lr=opt.param_groups[0]["lr"],
            total_steps=k["total_steps"],
            pct_start=k["pct_start"],
            div_factor=k["div_factor"],
            final_div_factor=k["final_div_factor"],
            anneal_strategy="cos",
            three_phase=False,
            cycle_momentum=False,
        )
    if name == "polynomial":
        return tl.PolynomialLR(opt, total_iters=k["total_steps"], power=k["power"])
    if name == "plateau":
        return tl.ReduceLROnPlateau(
            opt,
            mode="min",
            factor=k["factor"],
            patience=k["patience"],
            threshold=k["threshold"],
            threshold_mode="rel",
            cooldown=k["cooldown"],
            min_lr=k["min_lr"],
        )
    raise ValueError(name)


def optimizer(base_lr: float) -> torch.optim.Optimizer:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([p], lr=base_lr)


def torch_curve(name: str, base_lr: float, knobs: dict[str, Any], n: int) -> np.ndarray:
    opt = optimizer(base_lr)
    sched = torch_scheduler(name, opt, knobs)
    out = [sched.get_last_lr()[0]]
    for _ in range(n - 1):
        opt.step()  # no grads: a no-op that keeps torch's call-order check quiet
        sched.step()
        out.append(sched.get_last_lr()[0])
    return np.array(out, dtype=np.float64)


def torch_plateau(base_lr: float, knobs: dict[str, Any], losses: np.ndarray) -> np.ndarray:
    opt = optimizer(base_lr)
    sched = torch_scheduler("plateau", opt, knobs)
    out = [opt.param_groups[0]["lr"]]
    for loss in losses.tolist():
        opt.step()
        sched.step(loss)
        out.append(sched.get_last_lr()[0])
    return np.array(out, dtype=np.float64)


def breakpoints(name: str, k: dict[str, Any]) -> list[int]:
    """Steps where a schedule changes regime (stored with their neighbours)."""
    if name == "step":
        return [k["step_size"] * i for i in range(1, 4)]
    if name == "multistep":
        return list(k["milestones"])
    if name in ("cosine", "polynomial", "onecycle"):
        pts = [k["total_steps"]]
        if name == "onecycle":
            pts.append(math.floor(k["pct_start"] * k["total_steps"]) - 1)
        return pts
    if name == "warmup":
        return [k["warmup_steps"]]
    if name == "cosine-restarts":
        pts, s, length = [], 0, k["period"]
        while s < MAX_N and len(pts) < 20:
            s += length
            pts.append(s)
            length *= k["period_mult"]
        return pts
    return []


def stored_indices(rng: np.random.Generator, name: str, k: dict[str, Any], n: int) -> np.ndarray:
    if n <= 2 * KEEP_EDGE + KEEP_RANDOM:
        return np.arange(n)
    keep = set(range(KEEP_EDGE)) | set(range(n - KEEP_EDGE, n))
    for b in breakpoints(name, k):
        keep |= {i for i in range(b - 2, b + 3) if 0 <= i < n}
    keep |= {int(i) for i in rng.integers(0, n, KEEP_RANDOM)}
    return np.array(sorted(keep))


def log_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    return round(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def log_float(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def min_lr(rng: np.random.Generator, base: float) -> float:
    return 0.0 if rng.random() < 0.35 else float(base * rng.uniform(0.0, 0.5))


def random_knobs(rng: np.random.Generator, name: str, base: float) -> dict[str, Any]:
    if name == "step":
        return {"step_size": log_int(rng, 1, 3000), "gamma": float(rng.uniform(0.05, 1.2))}
    if name == "multistep":
        count = int(rng.integers(1, 7))
        ms = sorted({int(x) for x in rng.integers(1, 12_000, count)})
        return {"milestones": ms, "gamma": float(rng.uniform(0.05, 1.2))}
    if name == "exponential":
        return {"gamma": math.exp(-log_float(rng, 1e-5, 2e-2))}
    if name == "cosine":
        return {"total_steps": log_int(rng, 1, 12_000), "min_lr": min_lr(rng, base)}
    if name == "cosine-restarts":
        return {
            "period": log_int(rng, 1, 4000),
            "period_mult": int(rng.integers(1, 5)),
            "min_lr": min_lr(rng, base),
            "peak_decay": 1.0,
        }
    if name == "warmup":
        return {
            "warmup_steps": log_int(rng, 1, 12_000),
            "start_factor": float(rng.uniform(0.001, 1.0)),
        }
    if name == "onecycle":
        return {
            "total_steps": log_int(rng, 2, 12_000),
            "pct_start": float(rng.uniform(0.01, 0.99)),
            "div_factor": float(rng.uniform(1.0, 100.0)),
            "final_div_factor": log_float(rng, 1.0, 1e5),
        }
    if name == "polynomial":
        return {"total_steps": log_int(rng, 1, 12_000), "power": float(rng.uniform(0.1, 5.0))}
    if name == "plateau":
        return {
            "factor": float(rng.uniform(0.05, 0.95)),
            "patience": int(rng.integers(0, 21)),
            "threshold": float(rng.choice([0.0, 1e-4, 1e-3, 1e-2, 0.1])),
            "cooldown": int(rng.integers(0, 11)),
            "min_lr": min_lr(rng, base) * 0.2,
        }
    raise ValueError(name)


def edge_cases() -> list[tuple[str, float, dict[str, Any], int]]:
    """Hand-written corners: degenerate lengths, factors of 1, long horizons."""
    e = math.exp
    return [
        ("step", 0.1, {"step_size": 1, "gamma": 0.9}, MAX_N),
        ("step", 0.1, {"step_size": MAX_N, "gamma": 0.1}, MAX_N),
        ("multistep", 0.1, {"milestones": [1], "gamma": 0.5}, 50),
        ("multistep", 0.3, {"milestones": [5, 6, 7, 8, 9000], "gamma": 0.7}, MAX_N),
        ("exponential", 0.1, {"gamma": 1.0}, 100),
        ("exponential", 0.05, {"gamma": e(-1e-3)}, MAX_N),  # the seeds' exp(-k t), k = 1e-3
        ("exponential", 1e-4, {"gamma": 1.001}, MAX_N),  # growth, as in an lr range test
        ("cosine", 0.1, {"total_steps": 1, "min_lr": 0.0}, 2),
        ("cosine", 0.1, {"total_steps": 2, "min_lr": 0.01}, 3),
        ("cosine", 0.1, {"total_steps": MAX_N - 1, "min_lr": 0.0}, MAX_N),
        ("cosine", 0.3, {"total_steps": MAX_N - 1, "min_lr": 0.1}, MAX_N),
        ("cosine", 0.01, {"total_steps": 500, "min_lr": 0.05}, 501),  # min_lr above lr
        ("cosine-restarts", 0.1, {"period": 1, "period_mult": 1, "min_lr": 0.0}, 50),
        ("cosine-restarts", 0.1, {"period": 1, "period_mult": 2, "min_lr": 0.001}, MAX_N),
        ("cosine-restarts", 0.1, {"period": 7, "period_mult": 3, "min_lr": 0.02}, MAX_N),
        ("cosine-restarts", 0.1, {"period": 100, "period_mult": 2, "min_lr": 0.0}, MAX_N),
        ("warmup", 0.1, {"warmup_steps": 1, "start_factor": 0.5}, 20),
        ("warmup", 0.1, {"warmup_steps": 50, "start_factor": 1.0}, 100),
        ("warmup", 0.1, {"warmup_steps": MAX_N - 1, "start_factor": 1e-6}, MAX_N),
        ("warmup", 0.1, {"warmup_steps": 100, "start_factor": 0.1}, 1000),
        ("onecycle", 0.1, {"total_steps": 1, "pct_start": 0.3}, 2),
        ("onecycle", 0.1, {"total_steps": 2, "pct_start": 0.75}, 3),
        ("onecycle", 0.1, {"total_steps": 10, "pct_start": 0.05}, 11),  # phase 1 before step 0
        ("onecycle", 0.1, {"total_steps": 1000, "pct_start": 0.3}, 1001),
        ("onecycle", 0.01, {"total_steps": MAX_N - 1, "pct_start": 0.25}, MAX_N),
        ("polynomial", 0.1, {"total_steps": 1, "power": 1.0}, 5),
        ("polynomial", 0.1, {"total_steps": 5000, "power": 1.0}, MAX_N),
        ("polynomial", 0.1, {"total_steps": MAX_N - 1, "power": 0.5}, MAX_N),
        ("polynomial", 0.1, {"total_steps": 3000, "power": 7.5}, MAX_N),
    ]


ONECYCLE_DEFAULTS = {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}


def losses_random(rng: np.random.Generator, n: int) -> np.ndarray:
    """A noisy decreasing loss with plateaus, flat runs and exact repeats."""
    out, level = [], float(rng.uniform(0.5, 5.0))
    while len(out) < n:
        kind = rng.integers(0, 4)
        length = int(rng.integers(1, 60))
        if kind == 0:  # steady improvement
            for _ in range(length):
                level *= float(rng.uniform(0.95, 0.999))
                out.append(level)
        elif kind == 1:  # exact plateau
            out.extend([level] * length)
        elif kind == 2:  # noise around the level
            out.extend((level * (1 + rng.normal(0, 0.02, length))).tolist())
        else:  # a bump up
            out.extend((level * rng.uniform(1.0, 1.5, length)).tolist())
    return np.array(out[:n], dtype=np.float64)


def plateau_edges() -> list[tuple[float, dict[str, Any], np.ndarray]]:
    base = {"factor": 0.5, "patience": 2, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0}
    down = np.linspace(1.0, 0.5, 20)
    flat = np.full(30, 0.5)
    thr = 0.1
    # Each step exactly at best * (1 - threshold) does not count as an improvement...
    exact = [1.0]
    for _ in range(20):
        exact.append(exact[-1] * (1.0 - thr))
    # ... while a hair below it does.
    below = [1.0]
    for _ in range(20):
        below.append(np.nextafter(below[-1] * (1.0 - thr), 0.0))
    return [
        (0.1, {**base, "patience": 0}, np.concatenate([down, flat])),
        (0.1, {**base, "cooldown": 3}, np.concatenate([down, flat, flat])),
        (0.1, {**base, "cooldown": 5, "patience": 0}, np.concatenate([flat, down, flat])),
        (0.1, {**base, "threshold": thr}, np.array(exact)),
        (0.1, {**base, "threshold": thr, "patience": 0}, np.array(below)),
        (0.1, {**base, "min_lr": 0.02, "patience": 0}, np.full(40, 1.0)),
        (2e-8, {**base, "patience": 0}, np.full(20, 1.0)),  # cut smaller than eps: skipped
        (0.1, {**base, "threshold": 0.0}, np.array([1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9])),
        (0.1, base, np.array([1.0, math.nan, 0.9, math.inf, 0.8, 0.8, 0.8, 0.8, -1.0, -1.0])),
    ]


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(SEED)
    cases: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}

    def add(name: str, base: float, knobs: dict[str, Any], n: int, kind: str) -> None:
        # Torch's own range: cosine is ours only up to total_steps (we hold min_lr after,
        # torch climbs back), onecycle raises after total_steps.
        n_torch = n
        if name in ("cosine", "onecycle"):
            n_torch = min(n, knobs["total_steps"] + 1)
        curve = torch_curve(name, base, knobs, n_torch)
        idx = stored_indices(rng, name, knobs, n_torch)
        i = len(cases)
        cases.append({"name": name, "base_lr": base, "knobs": knobs, "n": n, "kind": kind})
        arrays[f"idx_{i}"] = idx.astype(np.uint16)
        arrays[f"lr_{i}"] = curve[idx]

    names = [
        "step",
        "multistep",
        "exponential",
        "cosine",
        "cosine-restarts",
        "warmup",
        "onecycle",
        "polynomial",
    ]
    for name in names:
        for j in range(8):
            base = log_float(rng, 1e-5, 1.0)
            knobs = random_knobs(rng, name, base)
            n = MAX_N if j == 0 else log_int(rng, 1, MAX_N)
            add(name, base, knobs, n, "random")
    for name, base, knobs, n in edge_cases():
        if name == "onecycle":
            knobs = {**ONECYCLE_DEFAULTS, **knobs}
        add(name, base, knobs, n, "edge")

    plateau: list[tuple[float, dict[str, Any], np.ndarray, str]] = []
    for _ in range(8):
        base = log_float(rng, 1e-4, 1.0)
        knobs = random_knobs(rng, "plateau", base)
        plateau.append((base, knobs, losses_random(rng, int(rng.integers(200, 1500))), "random"))
    plateau += [(b, k, loss, "edge") for b, k, loss in plateau_edges()]
    for base, knobs, losses, kind in plateau:
        i = len(cases)
        cases.append(
            {"name": "plateau", "base_lr": base, "knobs": knobs, "n": len(losses), "kind": kind}
        )
        arrays[f"loss_{i}"] = losses
        arrays[f"lr_{i}"] = torch_plateau(base, knobs, losses)

    meta = {"torch": torch.__version__, "seed": SEED, "cases": cases}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB, {len(cases)} cases)")


if __name__ == "__main__":
    main()
