"""Generate tests/engine/fixtures/optimizer_state.npz: torch.optim state tensors by key.

Run with a Python that has torch 2.13.0 (`pip install torch==2.13.0`; the tests need only
NumPy):

    python tests/engine/make_optimizer_state_fixtures.py

The cases are built like make_optimizer_fixtures.py's (and with its helpers): for every
optplay optimizer with a torch twin, one case with the twin's defaults at a constant lr, and
`RANDOM_CASES` with every knob drawn at random (booleans balanced across the cases), a random
shape (scalar, vector, matrix or 3-D) and an lr that changes every step, all in float64 with
`foreach=False`. After `CHECKPOINTS` steps (50 and 300) the script stores every entry of
torch's `optimizer.state[p]`: the tensors (exp_avg, exp_avg_sq, max_exp_avg_sq,
momentum_buffer, sum, square_avg, grad_avg, acc_delta, exp_inf, row_var, col_var, variance)
and the scalars (step, mu_product).

The file holds `meta` (JSON: per case the optimizer, knobs, steps, lr mode, shape, offsets of
its problem in the flat arrays, and per checkpoint the state keys with their shapes and
offsets into `state`), the cases' concatenated `p0`, `a`, `c`, `stride`, `offset`, the flat
`state` values, and the `noise` and `lr_factors` tables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from make_optimizer_fixtures import (
    BOOLS,
    KNOBS,
    N_FACTORS,
    N_NOISE,
    TWINS,
    draw_hypers,
    gradient,
    lr_at,
    make_problem,
    random_shape,
    torch_kwargs,
)

OUT = Path(__file__).parent / "fixtures" / "optimizer_state.npz"
SEED = 20260614
RANDOM_CASES = 5
CHECKPOINTS = (50, 300)
STEPS = max(CHECKPOINTS)


def torch_states(
    name: str, torch_kw: dict[str, Any], prob: dict, noise: np.ndarray, lrs: list[float] | None
) -> list[dict[str, np.ndarray]]:
    """torch's optimizer.state[p] (as float64 arrays) after each checkpoint's step."""
    import torch

    cls = getattr(torch.optim, TWINS[name][0])
    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=torch.float64))
    opt = cls([p], foreach=False, **torch_kw)
    out = []
    for t in range(1, STEPS + 1):
        p.grad = torch.from_numpy(gradient(p.detach().numpy().copy(), t, prob, noise))
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t - 1]
        opt.step()
        if t in CHECKPOINTS:
            state = {}
            for key, value in opt.state[p].items():
                arr = value.detach().numpy() if torch.is_tensor(value) else np.asarray(value)
                state[key] = np.array(arr, dtype=np.float64)
            out.append(state)
    return out


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
    flat: dict[str, list[np.ndarray]] = {k: [] for k in ("p0", "a", "c", "stride", "offset")}
    flat_dtype = {"p0": np.float64, "a": np.float64, "c": np.float64}
    flat_dtype.update(stride=np.int16, offset=np.int16)
    values: list[np.ndarray] = []
    n_values = 0
    meta: list[dict[str, Any]] = []

    for name in TWINS:
        assert name in optimizers.names(), name
        knobs = KNOBS[name][0]
        bool_knobs = [k for k in knobs if k in BOOLS]
        pattern = {
            k: rng.permutation([i % 2 == 0 for i in range(RANDOM_CASES)]) for k in bool_knobs
        }
        cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
            ({}, dict(TWINS[name][1]), "constant")
        ]
        for i in range(RANDOM_CASES):
            h = draw_hypers(rng, name, {k: bool(pattern[k][i]) for k in bool_knobs})
            cases.append((h, torch_kwargs(name, h), "varying"))
        for j, (hypers, torch_kw, lr_mode) in enumerate(cases):
            shape = random_shape(rng, j % 4)
            prob = make_problem(rng, shape, bool(hypers.get("maximize", False)))
            lrs = None
            if lr_mode == "varying":
                lrs = [lr_at(t, hypers["lr"], factors) for t in range(1, STEPS + 1)]
            checkpoints = []
            states = torch_states(name, torch_kw, prob, noise, lrs)
            for t, state in zip(CHECKPOINTS, states, strict=True):
                keys = {}
                for key, arr in state.items():
                    if not np.all(np.isfinite(arr)):
                        raise SystemExit(f"{name} case {j}: {key} is not finite at step {t}")
                    keys[key] = {"shape": list(arr.shape), "start": n_values}
                    values.append(arr.ravel())
                    n_values += arr.size
                checkpoints.append({"step": t, "keys": keys})
            meta.append(
                {
                    "optimizer": name,
                    "hypers": hypers,
                    "lr_mode": lr_mode,
                    "shape": list(shape),
                    "start": sum(x.size for x in flat["p0"]),
                    "checkpoints": checkpoints,
                }
            )
            for key in flat:
                flat[key].append(np.ravel(prob[key]).astype(flat_dtype[key]))
        print(f"{name:10s} {len(cases)} cases")

    arrays: dict[str, np.ndarray] = {"noise": noise, "lr_factors": factors}
    for key, parts in flat.items():
        arrays[key] = np.concatenate(parts)
    arrays["state"] = np.concatenate(values)
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(meta)} cases)")


if __name__ == "__main__":
    main()
