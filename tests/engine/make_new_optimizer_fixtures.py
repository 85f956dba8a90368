"""Generate tests/engine/fixtures/new_optimizers.npz: trajectories of the optimizers added by
issue 28 from their references (torch 2.13.0 twins and published reference packages).

Run with a Python that has torch 2.13.0, schedulefree and pytorch-optimizer (not the project
venv; none of them is a dependency of optplay):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 numpy schedulefree pytorch-optimizer
    /tmp/refvenv/bin/python tests/engine/make_new_optimizer_fixtures.py

The layout, the objective and the lr changes are those of make_optimizer_fixtures.py (whose
`gradient`, `lr_at`, `make_problem` and `random_shape` are reused): per optimizer one case
with optplay's defaults at a constant lr and `RANDOM_CASES` float64 cases with random knobs and
an lr that changes every step, plus `F32_CASES` float32 cases. Optimizers that re-evaluate the
objective inside a step (closure: lbfgs, sam) use the smooth non-quadratic objective
`closure_objective` (the step's noise fixed during the step). Schedule-free cases also store
the reference's evaluation point (the params after `optimizer.eval()`) at the checkpoints
(`eval_traj`). The wrappers (sam, lookahead) wrap torch twins (`torch_inner`). Each case's
`reference` names what produced it; appending an optimizer to RUNNERS leaves the earlier
cases' random draws, and so their data, unchanged.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from make_optimizer_fixtures import (
    CHECKPOINTS,
    N_FACTORS,
    N_NOISE,
    _log_uniform,
    gradient,
    lr_at,
    make_problem,
    random_shape,
)

OUT = Path(__file__).parent / "fixtures" / "new_optimizers.npz"
SEED = 20261207
RANDOM_CASES = 30
F32_CASES = 3
# Steps per case: 300 as the older fixtures, fewer where one step is many evaluations.
STEPS = {"lbfgs": 20, "lbfgs-wolfe": 20, "sam": 150}
# The other knob values of a case's inner optimizer are its optplay (= torch) defaults.
DEFAULT_STEPS = 300
QUARTIC = 0.05  # weight of the quartic term of closure_objective


def closure_objective(
    p: np.ndarray, t: int, prob: dict, noise: np.ndarray
) -> tuple[float, np.ndarray]:
    """f_t(θ) = Σ a/2·(θ − c)² + w/4·(θ − c)⁴ + n_t·θ and its gradient, in θ's dtype; n_t is
    the step's noise (make_optimizer_fixtures.gradient's), fixed while a step re-evaluates.
    Shared with the test: the objective both sides evaluate."""
    dtype = p.dtype
    idx = (t * prob["stride"].astype(np.int64) + prob["offset"]) % len(noise)
    a = np.abs(prob["a"]).astype(dtype)
    e = p - prob["c"].astype(dtype)
    n = noise.astype(dtype)[idx]
    e2 = e * e
    w = dtype.type(QUARTIC)
    loss = float(np.sum(a / 2 * e2 + w / 4 * e2 * e2 + n * p))
    g = a * e + w * e2 * e + n
    return loss, np.asarray(g, dtype=dtype)


# -- knob draws ------------------------------------------------------------------------------


def _coin(rng: np.random.Generator, p: float = 0.5) -> bool:
    return bool(rng.random() < p)


def _wd(rng: np.random.Generator) -> float:
    return 0.0 if _coin(rng, 0.25) else _log_uniform(rng, 1e-4, 0.2)


def draw(rng: np.random.Generator, name: str, i: int) -> dict[str, Any]:
    """Random knobs (optplay names) for case i of optimizer `name` (booleans alternate)."""
    flip = i % 2 == 0
    if name == "rprop":
        return dict(
            lr=_log_uniform(rng, 1e-4, 0.1),
            etaminus=float(rng.uniform(0.2, 0.8)),
            etaplus=float(rng.uniform(1.05, 1.6)),
            step_size_min=_log_uniform(rng, 1e-8, 1e-3),
            step_size_max=_log_uniform(rng, 0.05, 50.0),
            maximize=flip,
        )
    if name == "asgd":
        return dict(
            lr=_log_uniform(rng, 1e-3, 0.1),
            lambd=0.0 if _coin(rng, 0.2) else _log_uniform(rng, 1e-5, 0.1),
            alpha=float(rng.uniform(0.3, 1.0)),
            t0=float(rng.integers(0, 150)),
            weight_decay=_wd(rng),
            maximize=flip,
        )
    if name == "muon":
        return dict(
            lr=_log_uniform(rng, 1e-3, 0.05),
            weight_decay=_wd(rng),
            momentum=float(rng.uniform(0.0, 0.99)),
            nesterov=flip,
            ns_steps=int(rng.integers(1, 7)),
            adjust_lr_fn=str(rng.choice(["original", "match_rms_adamw"])),
            adamw_lr=_log_uniform(rng, 1e-4, 1e-2),
            adamw_beta1=float(rng.uniform(0.0, 0.99)),
            adamw_beta2=1.0 - _log_uniform(rng, 1e-4, 0.6),
            adamw_eps=_log_uniform(rng, 1e-10, 1e-3),
            adamw_weight_decay=_wd(rng),
        )
    if name in ("lbfgs", "lbfgs-wolfe"):
        max_iter = int(rng.integers(1, 26))
        wolfe = flip or name == "lbfgs-wolfe"
        return dict(
            # Without a line search a full step can overshoot the quartic: smaller rates.
            lr=_log_uniform(rng, 0.1, 1.0) if wolfe else _log_uniform(rng, 0.01, 0.3),
            max_iter=max_iter,
            max_eval=None if _coin(rng) else int(rng.integers(max_iter, 2 * max_iter + 2)),
            tolerance_grad=_log_uniform(rng, 1e-7, 1e-4),  # above the rounding floor of g
            tolerance_change=_log_uniform(rng, 1e-12, 1e-7),
            history_size=int(rng.integers(1, 21)),
            line_search_fn="strong_wolfe" if wolfe else "none",
        )
    if name == "adabound":
        return dict(
            lr=_log_uniform(rng, 1e-4, 3e-2),
            final_lr=_log_uniform(rng, 1e-3, 0.2),
            beta1=float(rng.uniform(0.0, 0.99)),
            beta2=1.0 - _log_uniform(rng, 1e-4, 0.6),
            gamma=_log_uniform(rng, 1e-4, 0.1),
            weight_decay=_wd(rng),
            weight_decouple=flip,
            fixed_decay=i % 4 < 2,
            ams_bound=i % 3 == 0,
            eps=_log_uniform(rng, 1e-10, 1e-3),
            maximize=i % 5 < 2,
        )
    if name in ("schedulefree-adamw", "schedulefree-sgd"):
        knobs = dict(
            lr=_log_uniform(rng, 1e-4, 3e-2),
            beta1=float(rng.uniform(0.1, 0.99)),
            beta2=1.0 - _log_uniform(rng, 1e-4, 0.6),
            eps=_log_uniform(rng, 1e-10, 1e-3),
            weight_decay=_wd(rng),
            warmup_steps=0 if flip else int(rng.integers(1, 60)),
            r=0.0 if i % 3 else float(rng.uniform(0.0, 2.0)),
            weight_lr_power=float(rng.uniform(0.0, 3.0)),
        )
        if name == "schedulefree-sgd":
            knobs["momentum"] = knobs.pop("beta1")
            knobs["lr"] = _log_uniform(rng, 1e-3, 0.2)
            del knobs["beta2"], knobs["eps"]
        return knobs
    if name == "prodigy":
        return dict(
            lr=float(rng.uniform(0.2, 1.5)),
            beta1=float(rng.uniform(0.0, 0.99)),
            beta2=1.0 - _log_uniform(rng, 1e-4, 0.6),
            beta3=None if _coin(rng) else float(rng.uniform(0.5, 0.999)),
            d0=_log_uniform(rng, 1e-7, 1e-3),
            d_coef=float(rng.uniform(0.3, 2.0)),
            growth_rate=None if _coin(rng) else float(rng.uniform(1.01, 2.0)),
            weight_decay=_wd(rng),
            fixed_decay=i % 4 < 2,
            bias_correction=flip,
            safeguard_warmup=i % 3 == 0,
            eps=_log_uniform(rng, 1e-10, 1e-3),
            maximize=i % 5 < 2,
        )
    if name == "sam":
        return dict(
            lr=_log_uniform(rng, 1e-3, 0.05),
            inner=SAM_INNER[i % len(SAM_INNER)],
            rho=_log_uniform(rng, 1e-3, 0.3),
            adaptive=flip,
            perturb_eps=_log_uniform(rng, 1e-13, 1e-9),
        )
    if name == "lookahead":
        return dict(
            lr=_log_uniform(rng, 1e-3, 0.05),
            inner=LOOKAHEAD_INNER[i % len(LOOKAHEAD_INNER)],
            k=int(rng.integers(1, 11)),
            alpha=float(rng.uniform(0.0, 1.0)),
        )
    raise KeyError(name)


# The inner optimizers the wrappers' fixtures use: torch twins with torch's defaults.
SAM_INNER = ("sgd", "momentum", "nesterov", "adam", "adamw")
LOOKAHEAD_INNER = ("adam", "sgd", "momentum", "adamw", "rmsprop", "nadam")


def torch_inner(name: str) -> tuple[Any, dict[str, Any]]:
    """The torch class and keyword arguments (optplay's defaults) of an inner optimizer."""
    import torch

    return {
        "sgd": (torch.optim.SGD, {}),
        "momentum": (torch.optim.SGD, {"momentum": 0.9}),
        "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        "adam": (torch.optim.Adam, {}),
        "adamw": (torch.optim.AdamW, {}),
        "rmsprop": (torch.optim.RMSprop, {}),
        "nadam": (torch.optim.NAdam, {}),
    }[name]


# -- references --------------------------------------------------------------------------------

Runner = Callable[[dict[str, Any], dict, np.ndarray, Any, int, list[float] | None], np.ndarray]


def _torch_loop(
    make: Callable[[Any, dict[str, Any]], Any],
    hypers: dict[str, Any],
    prob: dict,
    noise: np.ndarray,
    dtype: Any,
    steps: int,
    lrs: list[float] | None,
    lr_of: Callable[[float], float] = lambda lr: lr,
) -> np.ndarray:
    import torch

    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=dtype))
    opt = make(p, hypers)
    out = []
    for t in range(1, steps + 1):
        p.grad = torch.from_numpy(gradient(p.detach().numpy().copy(), t, prob, noise))
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lr_of(lrs[t - 1])
        opt.step()
        if t in CHECKPOINTS:
            out.append(p.detach().numpy().copy())
    return np.stack(out)


def run_rprop(h, prob, noise, dtype, steps, lrs):
    import torch

    def make(p, h):
        return torch.optim.Rprop(
            [p],
            lr=h.get("lr", 1e-2),
            etas=(h.get("etaminus", 0.5), h.get("etaplus", 1.2)),
            step_sizes=(h.get("step_size_min", 1e-6), h.get("step_size_max", 50)),
            maximize=h.get("maximize", False),
            foreach=False,
        )

    return _torch_loop(make, h, prob, noise, dtype, steps, lrs)


def run_asgd(h, prob, noise, dtype, steps, lrs):
    import torch

    def make(p, h):
        kw = {k: v for k, v in h.items() if k in ("lr", "lambd", "alpha", "t0", "weight_decay")}
        return torch.optim.ASGD([p], maximize=h.get("maximize", False), foreach=False, **kw)

    return _torch_loop(make, h, prob, noise, dtype, steps, lrs)


def run_muon(h, prob, noise, dtype, steps, lrs):
    """torch.optim.Muon on a matrix; on anything else torch.optim.AdamW with the adamw_*
    knobs and adamw_lr scaled by the schedule's factor (what optplay's muon does)."""
    import torch

    base = h.get("lr", 1e-3)
    adamw_lr = h.get("adamw_lr", 3e-4)
    if len(prob["p0"].shape) == 2:

        def make(p, h):
            return torch.optim.Muon(
                [p],
                lr=base,
                weight_decay=h.get("weight_decay", 0.1),
                momentum=h.get("momentum", 0.95),
                nesterov=h.get("nesterov", True),
                ns_steps=h.get("ns_steps", 5),
                adjust_lr_fn=h.get("adjust_lr_fn", "original"),
            )

        return _torch_loop(make, h, prob, noise, dtype, steps, lrs)

    def make_adamw(p, h):
        return torch.optim.AdamW(
            [p],
            lr=adamw_lr,
            betas=(h.get("adamw_beta1", 0.9), h.get("adamw_beta2", 0.999)),
            eps=h.get("adamw_eps", 1e-8),
            weight_decay=h.get("adamw_weight_decay", 1e-2),
            foreach=False,
        )

    return _torch_loop(
        make_adamw, h, prob, noise, dtype, steps, lrs, lambda lr: adamw_lr * (lr / base)
    )


def run_lbfgs(h, prob, noise, dtype, steps, lrs):
    """torch.optim.LBFGS: one `step(closure)` per step, the closure evaluating
    closure_objective at the current parameters with the step's noise."""
    import torch

    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=dtype))
    ls = h.get("line_search_fn", "none")
    opt = torch.optim.LBFGS(
        [p],
        lr=h.get("lr", 1.0),
        max_iter=h.get("max_iter", 20),
        max_eval=h.get("max_eval"),
        tolerance_grad=h.get("tolerance_grad", 1e-7),
        tolerance_change=h.get("tolerance_change", 1e-9),
        history_size=h.get("history_size", 100),
        line_search_fn=None if ls == "none" else ls,
    )
    out, evals = [], []
    for t in range(1, steps + 1):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t - 1]

        def closure(t=t):
            loss, g = closure_objective(p.detach().numpy().copy(), t, prob, noise)
            p.grad = torch.from_numpy(g)
            return torch.tensor(loss, dtype=torch.float64)

        opt.step(closure)
        evals.append(opt.state[p]["func_evals"])
        if t in CHECKPOINTS:
            out.append(p.detach().numpy().copy())
    return np.stack(out), np.array(evals)


def run_adabound(h, prob, noise, dtype, steps, lrs):
    import pytorch_optimizer

    def make(p, h):
        kw = dict(h)
        if "beta1" in kw:
            kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
        return pytorch_optimizer.AdaBound([p], foreach=False, **kw)

    return _torch_loop(make, h, prob, noise, dtype, steps, lrs)


def _run_schedulefree(name, h, prob, noise, dtype, steps, lrs):
    """schedulefree's AdamWScheduleFree / SGDScheduleFree (foreach=False) in train mode with
    optplay's knob values; the checkpoints of y (the params) and, under "eval_traj", of x (the
    params after `eval()`)."""
    import schedulefree
    import torch

    from engine import optimizers

    kw = optimizers.validate(name, h)
    if name == "schedulefree-sgd":
        cls = schedulefree.SGDScheduleFree
    else:
        cls = schedulefree.AdamWScheduleFree
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=dtype))
    opt = cls([p], foreach=False, **kw)
    opt.train()
    out, out_eval = [], []
    for t in range(1, steps + 1):
        p.grad = torch.from_numpy(gradient(p.detach().numpy().copy(), t, prob, noise))
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t - 1]
        opt.step()
        if t in CHECKPOINTS:
            out.append(p.detach().numpy().copy())
            opt.eval()
            out_eval.append(p.detach().numpy().copy())
            opt.train()
    return {"traj": np.stack(out), "eval_traj": np.stack(out_eval)}


def run_sf_adamw(h, prob, noise, dtype, steps, lrs):
    return _run_schedulefree("schedulefree-adamw", h, prob, noise, dtype, steps, lrs)


def run_sf_sgd(h, prob, noise, dtype, steps, lrs):
    return _run_schedulefree("schedulefree-sgd", h, prob, noise, dtype, steps, lrs)


def run_prodigy(h, prob, noise, dtype, steps, lrs):
    import pytorch_optimizer

    from engine import optimizers

    def make(p, h):
        kw = optimizers.validate("prodigy", h)
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
        if kw["growth_rate"] is None:
            kw["growth_rate"] = float("inf")
        return pytorch_optimizer.Prodigy([p], foreach=False, **kw)

    return _torch_loop(make, h, prob, noise, dtype, steps, lrs)


def run_sam(h, prob, noise, dtype, steps, lrs):
    """pytorch_optimizer.SAM over a torch inner optimizer: the gradient at θ before `step`,
    the closure evaluating closure_objective (the step's noise) at the perturbed point."""
    import pytorch_optimizer
    import torch

    cls, kw = torch_inner(h.get("inner", "momentum"))
    p = torch.nn.Parameter(torch.tensor(prob["p0"], dtype=dtype))
    opt = pytorch_optimizer.SAM(
        [p], cls, rho=h.get("rho", 0.05), adaptive=h.get("adaptive", False),
        perturb_eps=h.get("perturb_eps", 1e-12), foreach=False, lr=h.get("lr", 1e-2), **kw,
    )  # fmt: skip
    out = []
    for t in range(1, steps + 1):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t - 1]

        def closure(t=t):
            loss, g = closure_objective(p.detach().numpy().copy(), t, prob, noise)
            p.grad = torch.from_numpy(g)
            return torch.tensor(loss, dtype=torch.float64)

        closure()
        opt.step(closure)
        if t in CHECKPOINTS:
            out.append(p.detach().numpy().copy())
    return np.stack(out)


def run_lookahead(h, prob, noise, dtype, steps, lrs):
    import pytorch_optimizer

    def make(p, h):
        cls, kw = torch_inner(h.get("inner", "adam"))
        inner = cls([p], lr=h.get("lr", 1e-3), foreach=False, **kw)
        return pytorch_optimizer.Lookahead(inner, k=h.get("k", 5), alpha=h.get("alpha", 0.5))

    return _torch_loop(make, h, prob, noise, dtype, steps, lrs)


RUNNERS: dict[str, tuple[str, Runner]] = {
    "rprop": ("torch 2.13 torch.optim.Rprop", run_rprop),
    "asgd": ("torch 2.13 torch.optim.ASGD", run_asgd),
    "muon": ("torch 2.13 torch.optim.Muon (+ AdamW off matrices)", run_muon),
    "lbfgs": ("torch 2.13 torch.optim.LBFGS", run_lbfgs),
    "lbfgs-wolfe": ("torch 2.13 torch.optim.LBFGS(line_search_fn='strong_wolfe')", run_lbfgs),
    "adabound": ("pytorch-optimizer 4.1.0 pytorch_optimizer.AdaBound", run_adabound),
    "schedulefree-adamw": ("schedulefree 1.4.1 AdamWScheduleFree", run_sf_adamw),
    "schedulefree-sgd": ("schedulefree 1.4.1 SGDScheduleFree", run_sf_sgd),
    "prodigy": ("pytorch-optimizer 4.1.0 pytorch_optimizer.Prodigy", run_prodigy),
    "sam": ("pytorch-optimizer 4.1.0 pytorch_optimizer.SAM (torch inner)", run_sam),
    "lookahead": ("pytorch-optimizer 4.1.0 pytorch_optimizer.Lookahead (torch inner)",
                  run_lookahead),
}  # fmt: skip
SENSITIVE = {"lbfgs", "lbfgs-wolfe"}
# Knobs that define a registered entry (kept in every case of it).
DEFINING: dict[str, dict[str, Any]] = {"lbfgs-wolfe": {"line_search_fn": "strong_wolfe"}}


def case_shape(rng: np.random.Generator, name: str, j: int) -> tuple[int, ...]:
    if name == "muon":  # mostly matrices (Muon's path); every 5th a vector or scalar (AdamW)
        if j % 5 == 4:
            return random_shape(rng, j % 2)
        return (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
    return random_shape(rng, j % 4)


def main() -> None:
    import torch

    if torch.__version__.split("+")[0] != "2.13.0":
        print(f"warning: generated with torch {torch.__version__}, expected 2.13.0")
    torch.set_default_dtype(torch.float64)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from engine import optimizers

    only = sys.argv[1:]
    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, 0.5, size=N_NOISE)
    factors = rng.uniform(0.2, 1.5, size=N_FACTORS)
    arrays: dict[str, np.ndarray] = {"noise": noise, "lr_factors": factors}
    flat: dict[str, list[np.ndarray]] = {
        k: [] for k in ("p0", "a", "c", "stride", "offset", "traj")
    }
    flat_dtype = dict(p0=np.float64, a=np.float64, c=np.float64, stride=np.int16, offset=np.int16)
    evals: list[np.ndarray] = []
    eval_trajs: list[np.ndarray] = []
    meta: list[dict[str, Any]] = []
    for name, (reference, runner) in RUNNERS.items():
        if only and name not in only:
            continue
        assert name in optimizers.names(), name
        steps = STEPS.get(name, DEFAULT_STEPS)
        cases = [("float64", dict(DEFINING.get(name, {})), "constant")]
        cases += [("float64", draw(rng, name, i), "varying") for i in range(RANDOM_CASES)]
        cases += [("float32", draw(rng, name, i), "varying") for i in range(F32_CASES)]
        for j, (dtype_name, hypers, lr_mode) in enumerate(cases):
            hypers = {**hypers, **DEFINING.get(name, {})}
            shape = case_shape(rng, name, j)
            prob = make_problem(rng, shape, bool(hypers.get("maximize", False)))
            dtype = torch.float64 if dtype_name == "float64" else torch.float32
            if dtype_name == "float32":
                prob = {
                    k: (v.astype(np.float32) if v.dtype == np.float64 else v)
                    for k, v in prob.items()
                }
            n_steps = steps if dtype_name == "float64" else max(1, steps // 3)
            base_lr = optimizers.validate(name, hypers)["lr"]
            lrs = None
            if lr_mode == "varying":
                lrs = [lr_at(t, base_lr, factors) for t in range(1, n_steps + 1)]
            result = runner(hypers, prob, noise, dtype, n_steps, lrs)
            eval_traj = None
            if isinstance(result, dict):  # the evaluation point too (schedule-free)
                traj, ev, eval_traj = result["traj"], None, result["eval_traj"]
            else:
                traj, ev = result if isinstance(result, tuple) else (result, None)
            stable = len(traj)
            if name in SENSITIVE:
                # L-BFGS branches on its own rounding (tolerances, the line search): torch's
                # MKL dot products and fused adds round differently from NumPy's, and such a
                # 1e-16 difference can change a branch. We keep the checkpoints where torch
                # itself is reproducible: where runs from θ₀ moved by one ulp either way stay
                # within 1e-12 of the stored one.
                axes = tuple(range(1, traj.ndim))
                scale = np.maximum(np.max(np.abs(traj), axis=axes), 1e-300)
                close = np.ones(len(traj), bool)
                for way in (np.inf, -np.inf):
                    nudged = {**prob, "p0": np.nextafter(prob["p0"], way)}
                    alt = runner(hypers, nudged, noise, dtype, n_steps, lrs)[0]
                    close &= np.max(np.abs(alt - traj), axis=axes) <= 1e-12 * scale
                stable = int(np.argmin(close)) if not close.all() else len(traj)
            if not np.all(np.isfinite(traj)) or np.max(np.abs(traj)) > 1e6:
                raise SystemExit(f"{name} case {j}: trajectory diverged; adjust the ranges")
            meta.append(
                {
                    "optimizer": name,
                    "reference": reference,
                    "hypers": hypers,
                    "dtype": dtype_name,
                    "steps": n_steps,
                    "lr_mode": lr_mode,
                    "shape": list(shape),
                    "start": sum(x.size for x in flat["p0"]),
                    "traj_start": sum(x.size for x in flat["traj"]),
                    "evals_start": sum(x.size for x in evals) if ev is not None else None,
                    "eval_traj_start": (
                        sum(x.size for x in eval_trajs) if eval_traj is not None else None
                    ),
                    "stable_checkpoints": stable,
                }
            )
            if ev is not None:
                evals.append(ev.astype(np.int32))
            if eval_traj is not None:
                eval_trajs.append(np.ravel(eval_traj).astype(np.float64))
            for key in ("p0", "a", "c", "stride", "offset"):
                flat[key].append(np.ravel(prob[key]).astype(flat_dtype[key]))
            flat["traj"].append(np.ravel(traj).astype(np.float64))
        print(f"{name:14s} {len(cases)} cases ({reference})")
    for key, parts in flat.items():
        arrays[key] = np.concatenate(parts)
    arrays["evals"] = np.concatenate(evals) if evals else np.zeros(0, np.int32)
    arrays["eval_traj"] = np.concatenate(eval_trajs) if eval_trajs else np.zeros(0)
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(meta)} cases)")


if __name__ == "__main__":
    main()
