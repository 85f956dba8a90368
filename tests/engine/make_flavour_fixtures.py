"""Generate tests/engine/fixtures/flavours.npz: trajectories from optax and Keras 3.

Run with a Python that has jax, optax and keras (Keras 3, jax backend), not the project venv:

    python3 -m venv /tmp/flavours-ref && /tmp/flavours-ref/bin/pip install jax optax keras
    /tmp/flavours-ref/bin/python tests/engine/make_flavour_fixtures.py

Same test problem as make_optimizer_fixtures.py (its `make_problem`, `gradient`, `lr_at`): a
quadratic with deterministic noise, so both sides compute bit-identical gradients from the
same parameters. For every optimizer with a `flavour` knob and every framework that has it,
`CASES` random configs of the knobs that framework has (the rest stay at optplay's
defaults: no L2 weight decay, no maximize, no dampening, no lr_decay), a random shape and a
rate that changes every step (optax: `inject_hyperparams`, the rate set in the state before
each update; Keras: `optimizer.learning_rate = ...` before each `apply_gradients`), float64
with jax's x64 mode, plus `F32_CASES` float32 configs each. Parameters are stored at the
checkpoints <= `STEPS`.

The file holds `meta` (JSON: per case the optimizer, its knobs including `flavour`, dtype,
steps, shape and offsets), the flat `p0`, `a`, `c`, `stride`, `offset`, `traj` arrays, the
`noise` table and the `lr_factors`, as optimizers.npz does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_optimizer_fixtures import (
    N_FACTORS,
    N_NOISE,
    _log_uniform,
    gradient,
    lr_at,
    make_problem,
    random_shape,
)

OUT = Path(__file__).parent / "fixtures" / "flavours.npz"
SEED = 20261207
STEPS = 100
CASES = 6  # float64 configs per (optimizer, framework): 10 optimizers -> 60 per framework
F32_CASES = 2
CHECKPOINTS = (1, 2, 3, 5, 10, 20, 50, 100)

# optplay optimizer -> the knobs drawn at random, and the base-lr range.
KNOBS: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "adam": (("beta1", "beta2", "eps", "amsgrad"), (1e-4, 3e-2)),
    "amsgrad": (("beta1", "beta2", "eps"), (1e-4, 3e-2)),
    "adamw": (("beta1", "beta2", "eps", "weight_decay"), (1e-4, 3e-2)),
    "nadam": (("beta1", "beta2", "eps"), (1e-4, 3e-2)),
    "rmsprop": (("alpha", "eps", "momentum", "centered"), (1e-4, 1e-2)),
    "momentum": (("momentum",), (1e-3, 0.1)),
    "nesterov": (("momentum",), (1e-3, 0.1)),
    "adagrad": (("initial_accumulator_value", "eps"), (1e-3, 0.5)),
    "adamax": (("beta1", "beta2", "eps"), (1e-4, 3e-2)),
    "adadelta": (("rho", "eps"), (0.1, 2.0)),
}


def draw(rng: np.random.Generator, name: str, framework: str, i: int) -> dict[str, Any]:
    """Random knobs for optimizer `name` under `framework` (booleans alternate with i)."""
    knobs, (lo, hi) = KNOBS[name]
    out: dict[str, Any] = {"lr": _log_uniform(rng, lo, hi), "flavour": framework}
    for k in knobs:
        if k in ("amsgrad", "centered"):
            out[k] = i % 2 == 1
        elif k == "beta1":
            out[k] = float(rng.uniform(0.0, 0.99))
        elif k in ("beta2", "alpha", "rho"):
            out[k] = 1.0 - _log_uniform(rng, 1e-4, 0.6)
        elif k == "eps":
            out[k] = _log_uniform(rng, 1e-10, 1e-3)
        elif k == "momentum":
            low = 0.1 if name in ("momentum", "nesterov") else 0.0
            out[k] = 0.0 if low == 0.0 and rng.random() < 0.3 else float(rng.uniform(low, 0.95))
        elif k == "weight_decay":
            out[k] = _log_uniform(rng, 1e-4, 0.2)
        elif k == "initial_accumulator_value":
            out[k] = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.0, 1.0))
    if name == "amsgrad":
        out["amsgrad"] = True
    return out


def optax_optimizer(name: str, h: dict[str, Any]) -> Any:
    import optax

    inject = optax.inject_hyperparams
    lr = h["lr"]
    if name in ("adam", "amsgrad", "adamw", "nadam", "adamax"):
        kw = {"b1": h["beta1"], "b2": h["beta2"], "eps": h["eps"]}
        if name == "adamw":
            return inject(optax.adamw)(learning_rate=lr, weight_decay=h["weight_decay"], **kw)
        if name == "amsgrad" or h.get("amsgrad"):
            return inject(optax.amsgrad)(learning_rate=lr, **kw)
        return inject(getattr(optax, name))(learning_rate=lr, **kw)
    if name == "rmsprop":
        return inject(optax.rmsprop)(
            learning_rate=lr,
            decay=h["alpha"],
            eps=h["eps"],
            centered=h["centered"],
            momentum=h["momentum"] or None,
        )
    if name in ("momentum", "nesterov"):
        return inject(optax.sgd)(
            learning_rate=lr, momentum=h["momentum"], nesterov=name == "nesterov"
        )
    if name == "adagrad":
        return inject(optax.adagrad)(
            learning_rate=lr, initial_accumulator_value=h["initial_accumulator_value"], eps=h["eps"]
        )
    if name == "adadelta":
        return inject(optax.adadelta)(learning_rate=lr, rho=h["rho"], eps=h["eps"])
    raise KeyError(name)


def keras_optimizer(name: str, h: dict[str, Any]) -> Any:
    import keras

    ko = keras.optimizers
    lr = h["lr"]
    if name in ("adam", "amsgrad", "adamw", "nadam", "adamax"):
        kw = {"beta_1": h["beta1"], "beta_2": h["beta2"], "epsilon": h["eps"]}
        if name == "adamw":
            return ko.AdamW(learning_rate=lr, weight_decay=h["weight_decay"], **kw)
        if name in ("adam", "amsgrad"):
            return ko.Adam(learning_rate=lr, amsgrad=bool(h.get("amsgrad")), **kw)
        return {"nadam": ko.Nadam, "adamax": ko.Adamax}[name](learning_rate=lr, **kw)
    if name == "rmsprop":
        return ko.RMSprop(
            learning_rate=lr,
            rho=h["alpha"],
            epsilon=h["eps"],
            centered=h["centered"],
            momentum=h["momentum"],
        )
    if name in ("momentum", "nesterov"):
        return ko.SGD(learning_rate=lr, momentum=h["momentum"], nesterov=name == "nesterov")
    if name == "adagrad":
        return ko.Adagrad(
            learning_rate=lr,
            initial_accumulator_value=h["initial_accumulator_value"],
            epsilon=h["eps"],
        )
    if name == "adadelta":
        return ko.Adadelta(learning_rate=lr, rho=h["rho"], epsilon=h["eps"])
    raise KeyError(name)


def run_optax(name: str, h: dict, prob: dict, noise: np.ndarray, dtype: Any, lrs: list) -> Any:
    import jax.numpy as jnp
    import optax

    opt = optax_optimizer(name, h)
    p = jnp.asarray(prob["p0"], dtype=dtype)
    state = opt.init(p)
    out = []
    for t in range(1, STEPS + 1):
        g = jnp.asarray(gradient(np.asarray(p), t, prob, noise))
        # The rate in the parameters' dtype, as a float32 optax run without x64 has it.
        state.hyperparams["learning_rate"] = jnp.asarray(lrs[t - 1], dtype=dtype)
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
        if t in CHECKPOINTS:
            out.append(np.asarray(p, dtype=np.float64).copy())
    return np.stack(out)


def run_keras(name: str, h: dict, prob: dict, noise: np.ndarray, dtype: Any, lrs: list) -> Any:
    import keras

    opt = keras_optimizer(name, h)
    var = keras.Variable(np.asarray(prob["p0"], dtype=dtype), dtype=np.dtype(dtype).name)
    out = []
    for t in range(1, STEPS + 1):
        g = gradient(np.asarray(var.numpy()), t, prob, noise)
        opt.learning_rate = lrs[t - 1]
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        if t in CHECKPOINTS:
            out.append(np.asarray(var.numpy(), dtype=np.float64).copy())
    return np.stack(out)


def main() -> None:
    import jax
    import keras
    import optax

    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    print(f"jax {jax.__version__}, optax {optax.__version__}, keras {keras.__version__}")
    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, 0.5, size=N_NOISE)
    factors = rng.uniform(0.2, 1.5, size=N_FACTORS)
    arrays: dict[str, np.ndarray] = {"noise": noise, "lr_factors": factors}
    flat: dict[str, list[np.ndarray]] = {
        k: [] for k in ("p0", "a", "c", "stride", "offset", "traj")
    }
    flat_dtype = {"p0": np.float64, "a": np.float64, "c": np.float64}
    flat_dtype.update(stride=np.int16, offset=np.int16)
    meta: list[dict[str, Any]] = []
    runners = {"optax": run_optax, "keras": run_keras}
    for framework, run in runners.items():
        for name in KNOBS:
            for i in range(CASES + F32_CASES):
                dtype_name = "float64" if i < CASES else "float32"
                h = draw(rng, name, framework, i)
                shape = random_shape(rng, i % 4)
                prob = make_problem(rng, shape, False)
                if dtype_name == "float32":
                    prob = {
                        k: (v.astype(np.float32) if v.dtype == np.float64 else v)
                        for k, v in prob.items()
                    }
                lrs = [lr_at(t, h["lr"], factors) for t in range(1, STEPS + 1)]
                traj = run(name, h, prob, noise, np.dtype(dtype_name), lrs)
                if not np.all(np.isfinite(traj)) or np.max(np.abs(traj)) > 1e6:
                    raise SystemExit(f"{framework} {name} case {i} diverged; adjust the ranges")
                meta.append(
                    {
                        "optimizer": name,
                        "hypers": h,
                        "dtype": dtype_name,
                        "steps": STEPS,
                        "shape": list(shape),
                        "start": sum(x.size for x in flat["p0"]),
                        "traj_start": sum(x.size for x in flat["traj"]),
                    }
                )
                for key in ("p0", "a", "c", "stride", "offset"):
                    flat[key].append(np.ravel(prob[key]).astype(flat_dtype[key]))
                flat["traj"].append(np.ravel(traj).astype(np.float64))
            print(f"{framework:6s} {name:10s} {CASES + F32_CASES} cases")
    for key, parts in flat.items():
        arrays[key] = np.concatenate(parts)
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(meta)} cases)")


if __name__ == "__main__":
    main()
