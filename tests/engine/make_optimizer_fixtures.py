"""Generate tests/engine/fixtures/optimizers.npz: parameter trajectories from torch.optim.

Run with a Python that has torch 2.13.0 (not the project venv):

    python3 tests/engine/make_optimizer_fixtures.py

For every optplay optimizer with a torch twin it builds cases from a seeded RNG: one with
optplay's defaults passed to torch as *torch's* defaults (only the defining knob is given, e.g.
`momentum=0.9` for "momentum"), so the defaults are checked too, at a constant lr; and
`RANDOM_CASES` with every knob drawn at random (booleans balanced across the cases, cross-knob
rules respected), a random shape (scalar, vector, matrix or 3-D) and an lr that changes every
step (`group["lr"]` set before each `opt.step()`; optplay passes `step(..., lr=...)`).

The objective is a quadratic with a deterministic "noise" term, so the gradient is computed by
the same NumPy code here and in the test (`gradient` below) from the current parameters:

    g_t = a ⊙ (θ − c) + NOISE[(t·stride + offset) mod len(NOISE)]

(with `maximize` the curvature `a` is negative, so ascent is stable). Only elementary IEEE
operations are involved, so the gradients are bit-identical on any machine given identical
parameters. torch runs with `foreach=False` (the single-tensor reference arithmetic) and
`torch.set_default_dtype(torch.float64)`; the script also re-runs each float64 case with
`foreach=True` and prints the largest relative difference between the two torch paths.

Float64 cases run `STEPS` steps; float32 cases (fewer, `F32_STEPS` steps) use float32
parameters and gradients with torch's default dtype left at float64, so torch's scalar state
(step, NAdam's mu_product) is double like optplay's Python floats and only the per-element
float32 arithmetic differs. We store parameters at `CHECKPOINTS` (every stored value depends
on all earlier steps).

The file holds `meta` (JSON: per case the optimizer, knobs, dtype, steps, lr mode, shape and
offsets into the flat arrays), the cases' concatenated `p0`, `a`, `c` (problem; float32 cases
stored exactly as float64), `stride`, `offset` (noise indices), `traj` (parameters at the
checkpoints <= the case's steps, in order), the `noise` table and the `lr_factors`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).parent / "fixtures" / "optimizers.npz"
SEED = 20260522
STEPS = 300
F32_STEPS = 100
RANDOM_CASES = 5
F32_CASES = 2
CHECKPOINTS = (1, 2, 3, 5, 10, 20, 50, 100, 150, 200, 250, 300)
N_NOISE = 101
N_FACTORS = 37

# optplay name -> torch class name; knobs that define the optplay entry (kept in every case).
TWINS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adadelta": ("Adadelta", {}),
    "adam": ("Adam", {}),
    "amsgrad": ("Adam", {"amsgrad": True}),
    "adamw": ("AdamW", {}),
    "nadam": ("NAdam", {}),
    "radam": ("RAdam", {}),
    "adamax": ("Adamax", {}),
    "adafactor": ("Adafactor", {}),
}

# Knobs of each optimizer (optplay names) and the base-lr range drawn for it.
KNOBS: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "sgd": (("momentum", "dampening", "weight_decay", "nesterov", "maximize"), (1e-3, 0.1)),
    "adagrad": (
        ("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"),
        (1e-3, 0.5),
    ),
    "rmsprop": (
        ("alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
        (1e-4, 1e-2),
    ),
    "adadelta": (("rho", "eps", "weight_decay", "maximize"), (0.1, 2.0)),
    "adam": (("beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"), (1e-4, 3e-2)),
    "nadam": (
        (
            "beta1",
            "beta2",
            "eps",
            "weight_decay",
            "momentum_decay",
            "decoupled_weight_decay",
            "maximize",
        ),
        (1e-4, 3e-2),
    ),
    "radam": (
        ("beta1", "beta2", "eps", "weight_decay", "decoupled_weight_decay", "maximize"),
        (1e-4, 3e-2),
    ),
    "adamax": (("beta1", "beta2", "eps", "weight_decay", "maximize"), (1e-4, 3e-2)),
    "adafactor": (
        ("beta2_decay", "eps1", "eps2", "d", "weight_decay", "maximize"),
        (1e-3, 0.1),
    ),
}
KNOBS["momentum"] = KNOBS["nesterov"] = KNOBS["sgd"]
KNOBS["amsgrad"] = KNOBS["adamw"] = KNOBS["adam"]

BOOLS = ("nesterov", "maximize", "amsgrad", "centered", "decoupled_weight_decay")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_knob(rng: np.random.Generator, knob: str) -> Any:
    """A random value for a float knob, from a range where the test problem stays stable."""
    if knob == "momentum":
        return 0.0 if rng.random() < 0.2 else float(rng.uniform(0.05, 0.95))
    if knob == "dampening":
        return 0.0 if rng.random() < 0.3 else float(rng.uniform(0.0, 0.6))
    if knob == "weight_decay":
        return 0.0 if rng.random() < 0.25 else _log_uniform(rng, 1e-4, 0.2)
    if knob == "beta1":  # both branches of torch's lerp (1 − β₁ below and above 0.5)
        return float(rng.uniform(0.0, 0.99))
    if knob in ("beta2", "alpha", "rho"):
        return 1.0 - _log_uniform(rng, 1e-4, 0.6)
    if knob == "eps":
        return _log_uniform(rng, 1e-10, 1e-3)
    if knob == "lr_decay":
        return 0.0 if rng.random() < 0.3 else _log_uniform(rng, 1e-3, 1.0)
    if knob == "initial_accumulator_value":
        return 0.0 if rng.random() < 0.3 else float(rng.uniform(0.0, 1.0))
    if knob == "momentum_decay":
        return _log_uniform(rng, 1e-3, 0.1)
    if knob == "beta2_decay":
        return float(rng.uniform(-1.0, -0.3))
    if knob == "eps1":
        return None if rng.random() < 0.4 else _log_uniform(rng, 1e-12, 1e-3)
    if knob == "eps2":
        return _log_uniform(rng, 1e-4, 1e-2)
    if knob == "d":
        return float(rng.uniform(1.0, 2.0))
    raise KeyError(knob)


def draw_hypers(rng: np.random.Generator, name: str, bools: dict[str, bool]) -> dict[str, Any]:
    """Random knobs for optplay optimizer `name` (booleans given, for balance across cases)."""
    knobs, (lo, hi) = KNOBS[name]
    out: dict[str, Any] = {"lr": _log_uniform(rng, lo, hi)}
    for k in knobs:
        out[k] = bools[k] if k in BOOLS else draw_knob(rng, k)
    out.update(TWINS[name][1])  # the defining knobs
    if name == "momentum" and out["momentum"] == 0.0:
        out["momentum"] = 0.9
    if out.get("nesterov"):
        out["momentum"] = max(out["momentum"], 0.1)
        out["dampening"] = 0.0
    return out


def random_shape(rng: np.random.Generator, kind: int) -> tuple[int, ...]:
    """kind 0: scalar, 1: vector, 2: matrix, 3: 3-D (Adafactor factors the last two axes)."""
    if kind == 0:
        return ()
    if kind == 1:
        return (int(rng.integers(1, 13)),)
    if kind == 2:
        return (int(rng.integers(1, 6)), int(rng.integers(2, 6)))
    return (int(rng.integers(2, 3)), int(rng.integers(2, 4)), int(rng.integers(1, 4)))


def make_problem(rng: np.random.Generator, shape: tuple[int, ...], maximize: bool) -> dict:
    a = rng.uniform(0.1, 2.0, size=shape)
    return {
        "p0": rng.normal(0.0, 1.0, size=shape),
        "a": -a if maximize else a,
        "c": rng.normal(0.0, 1.0, size=shape),
        "stride": rng.integers(1, N_NOISE, size=shape).astype(np.int16),
        "offset": rng.integers(0, N_NOISE, size=shape).astype(np.int16),
    }


def gradient(p: np.ndarray, t: int, prob: dict, noise: np.ndarray) -> np.ndarray:
    """g_t = a ⊙ (θ − c) + noise[(t·stride + offset) mod len(noise)], in θ's dtype.

    Shared with the test: this is the objective both sides differentiate.
    """
    dtype = p.dtype
    idx = (t * prob["stride"].astype(np.int64) + prob["offset"]) % len(noise)
    g = prob["a"].astype(dtype) * (p - prob["c"].astype(dtype)) + noise.astype(dtype)[idx]
    return np.asarray(g, dtype=dtype)


def lr_at(t: int, base: float, factors: np.ndarray) -> float:
    """The lr of update t (t from 1) in the changing-lr cases: base × factors[t mod len]."""
    return base * float(factors[t % len(factors)])


def torch_kwargs(name: str, hypers: dict[str, Any]) -> dict[str, Any]:
    """optplay knobs -> torch constructor keyword arguments."""
    kw = dict(hypers)
    if "beta1" in kw:
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    if name == "adafactor":
        kw["eps"] = (kw.pop("eps1", None), kw.pop("eps2", 1e-3))
    return kw


def run_torch(
    name: str,
    torch_kw: dict[str, Any],
    prob: dict,
    noise: np.ndarray,
    dtype: Any,
    steps: int,
    lrs: list[float] | None,
    foreach: bool = False,
) -> np.ndarray:
    """Parameters at the checkpoints <= steps, from torch.optim.<twin>."""
    import torch

    cls = getattr(torch.optim, TWINS[name][0])
    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=dtype))
    opt = cls([p], foreach=foreach, **torch_kw)
    out = []
    for t in range(1, steps + 1):
        g = gradient(p.detach().numpy().copy(), t, prob, noise)
        p.grad = torch.from_numpy(g)
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t - 1]
        opt.step()
        if t in CHECKPOINTS:
            out.append(p.detach().numpy().copy())
    return np.stack(out)


def main() -> None:
    import torch

    if torch.__version__.split("+")[0] != "2.13.0":
        print(f"warning: generated with torch {torch.__version__}, expected 2.13.0")
    torch.set_default_dtype(torch.float64)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from engine import optimizers  # only to check the twins are registered

    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, 0.5, size=N_NOISE)
    factors = rng.uniform(0.2, 1.5, size=N_FACTORS)
    arrays: dict[str, np.ndarray] = {"noise": noise, "lr_factors": factors}
    # One flat array per kind (cases concatenated, offsets in meta): a few npz members
    # instead of hundreds keeps the file small.
    flat: dict[str, list[np.ndarray]] = {
        k: [] for k in ("p0", "a", "c", "stride", "offset", "traj")
    }
    flat_dtype = {"p0": np.float64, "a": np.float64, "c": np.float64}
    flat_dtype.update(stride=np.int16, offset=np.int16)
    meta: list[dict[str, Any]] = []
    worst_foreach = 0.0

    for name in TWINS:
        assert name in optimizers.names(), name
        knobs = KNOBS[name][0]
        bool_knobs = [k for k in knobs if k in BOOLS]
        # Balanced booleans: each takes both values across the random cases.
        pattern = {
            k: rng.permutation([i % 2 == 0 for i in range(RANDOM_CASES)]) for k in bool_knobs
        }
        cases: list[tuple[str, dict[str, Any], dict[str, Any], str, int]] = []
        cases.append(("float64", {}, dict(TWINS[name][1]), "constant", STEPS))
        for i in range(RANDOM_CASES):
            h = draw_hypers(rng, name, {k: bool(pattern[k][i]) for k in bool_knobs})
            cases.append(("float64", h, torch_kwargs(name, h), "varying", STEPS))
        for _ in range(F32_CASES):
            h = draw_hypers(rng, name, {k: bool(rng.random() < 0.5) for k in bool_knobs})
            cases.append(("float32", h, torch_kwargs(name, h), "varying", F32_STEPS))

        for j, (dtype_name, hypers, torch_kw, lr_mode, steps) in enumerate(cases):
            shape = random_shape(rng, j % 4)
            prob = make_problem(rng, shape, bool(hypers.get("maximize", False)))
            dtype = torch.float64 if dtype_name == "float64" else torch.float32
            if dtype_name == "float32":
                prob = {
                    k: (v.astype(np.float32) if v.dtype == np.float64 else v)
                    for k, v in prob.items()
                }
            lrs = None
            if lr_mode == "varying":
                lrs = [lr_at(t, hypers["lr"], factors) for t in range(1, steps + 1)]
            traj = run_torch(name, torch_kw, prob, noise, dtype, steps, lrs)
            if not np.all(np.isfinite(traj)) or np.max(np.abs(traj)) > 1e6:
                raise SystemExit(f"{name} case {j}: trajectory diverged; adjust the ranges")
            if dtype_name == "float64":
                alt = run_torch(name, torch_kw, prob, noise, dtype, steps, lrs, foreach=True)
                scale = max(np.max(np.abs(traj)), 1e-300)
                worst_foreach = max(worst_foreach, float(np.max(np.abs(alt - traj)) / scale))
            meta.append(
                {
                    "optimizer": name,
                    "hypers": hypers,
                    "dtype": dtype_name,
                    "steps": steps,
                    "lr_mode": lr_mode,
                    "shape": list(shape),
                    "start": sum(x.size for x in flat["p0"]),
                    "traj_start": sum(x.size for x in flat["traj"]),
                }
            )
            for key in ("p0", "a", "c", "stride", "offset"):
                flat[key].append(np.ravel(prob[key]).astype(flat_dtype[key]))
            flat["traj"].append(np.ravel(traj).astype(np.float64))
        print(f"{name:10s} {len(cases)} cases")

    for key, parts in flat.items():
        arrays[key] = np.concatenate(parts)
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(meta)} cases)")
    print(f"torch foreach=True vs foreach=False, float64: max relative diff {worst_foreach:.2e}")


if __name__ == "__main__":
    main()
