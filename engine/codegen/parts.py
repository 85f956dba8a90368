"""The pieces of a generated script: one function per task, optimizer and schedule.

Each returns source text for the chosen framework (numpy, torch, optax, keras); `assemble` puts
them into one script. Knob values are written with `repr`, so a float64 reads back exactly.
The NumPy optimizers are torch.optim's single-tensor formulas written out (what the engine
computes); torch and optax scripts use the framework's own optimizer classes for torch's
rules, Keras scripts keras.optimizers' classes for the keras flavour (`optimizer_code`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


class CodegenError(ValueError):
    """The experiment uses something `optplay code` does not cover (the message names it)."""


def _r(x: Any) -> str:
    """A Python literal of a knob value (floats exactly, via repr)."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, int | np.integer):
        return repr(int(x))
    if isinstance(x, float | np.floating):
        return repr(float(x))
    if isinstance(x, tuple | list):
        return "(" + ", ".join(_r(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    return repr(x)


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


# -- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskCode:
    """A task's code: `setup[fw]` defines the data, `params`, `N_TRAIN`/`BATCH_SIZE` (None
    without a data set), `loss_and_grads(params, idx)` (numpy) or `loss_fn(params, idx)`
    (torch, optax: differentiated by the framework) and `eval_loss(params)`."""

    setup: dict[str, str]
    data: dict[str, np.ndarray] | None
    what: str  # one line for the script's docstring


def _engine_init(config: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """The engine's task and the initial parameters a run of `config` starts from."""
    from engine import tasks

    task = tasks.create(config.task, dtype=config.dtype, **config.task_hypers)
    init_seq, _ = np.random.SeedSequence(config.seed).spawn(2)
    return task, task.init_params(np.random.default_rng(init_seq))


def _load_lines(names: list[str], fw: str) -> str:
    """Lines loading `names` from the .npz into framework arrays."""
    conv = {
        "numpy": "{}",
        "torch": "torch.from_numpy({})",
        "optax": "jnp.asarray({})",
        "keras": "jnp.asarray({})",
    }[fw]
    return "\n".join(n + " = " + conv.format(f'data["{n}"]') for n in names)


def _params_lines(keys: list[str], fw: str) -> str:
    inner = {
        "numpy": 'data["init_{k}"].copy()',
        "torch": 'torch.tensor(data["init_{k}"], requires_grad=True)',
        "optax": 'jnp.asarray(data["init_{k}"])',
        "keras": 'keras.Variable(data["init_{k}"], dtype=DTYPE, name="{k}")',
    }[fw]
    rows = "".join(f'    "{k}": {inner.format(k=k)},\n' for k in keys)
    return "params = {\n" + rows + "}"


def _prefix(loads: list[str], head: str, keys: list[str], fw: str) -> str:
    """The data loads, the batch constants and the initial parameters, then two blank lines."""
    return f"{_load_lines(loads, fw)}\n{head}\n{_params_lines(keys, fw)}\n\n\n"


def _rosenbrock(config: Any) -> TaskCode:
    h = config.task_hypers
    if h.get("grad_noise", 0.0) != 0.0:
        raise CodegenError("task_hypers: grad_noise must be 0 for `optplay code` (no noise yet)")
    start = f"[{_r(h['x0'])}, {_r(h['y0'])}]"
    numpy = _code(f'''
        N_TRAIN = BATCH_SIZE = None  # no data set: every step sees the whole function
        params = {{"xy": np.array({start}, dtype=DTYPE)}}


        def loss_and_grads(params, idx):
            """f = (1 - x)^2 + 100 (y - x^2)^2 and its gradient."""
            x, y = (float(v) for v in params["xy"])
            r = y - x * x
            loss = (1.0 - x) * (1.0 - x) + 100.0 * r * r
            grad = np.array([-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r], dtype=DTYPE)
            return loss, {{"xy": grad}}


        def eval_loss(params):
            return loss_and_grads(params, None)[0]
    ''')
    torch = _code(f"""
        N_TRAIN = BATCH_SIZE = None  # no data set: every step sees the whole function
        params = {{"xy": torch.tensor({start}, dtype=DTYPE, requires_grad=True)}}


        def loss_fn(params, idx):
            x, y = params["xy"]
            return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


        def eval_loss(params):
            with torch.no_grad():
                return float(loss_fn(params, None))
    """)
    optax = _code(f"""
        N_TRAIN = BATCH_SIZE = None  # no data set: every step sees the whole function
        params = {{"xy": jnp.array({start}, dtype=DTYPE)}}


        def loss_fn(params, idx):
            x, y = params["xy"]
            return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


        def eval_loss(params):
            return float(loss_fn(params, None))
    """)
    keras = _code(f"""
        N_TRAIN = BATCH_SIZE = None  # no data set: every step sees the whole function
        params = {{"xy": keras.Variable(np.array({start}), dtype=DTYPE, name="xy")}}


        def loss_fn(values, idx):
            x, y = values["xy"][0], values["xy"][1]
            return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


        def eval_loss(values):
            return float(loss_fn(values, None))
    """)
    return TaskCode(
        {"numpy": numpy, "torch": torch, "optax": optax, "keras": keras},
        None,
        f"Rosenbrock (1 - x)^2 + 100 (y - x^2)^2 from ({_r(h['x0'])}, {_r(h['y0'])})",
    )


def _linear_regression(config: Any) -> TaskCode:
    task, init = _engine_init(config)
    data = {"X": task.X, "y": task.y, "X_test": task.X_test, "y_test": task.y_test}
    data.update({f"init_{k}": np.asarray(v) for k, v in init.items()})
    head = "N_TRAIN, BATCH_SIZE = len(X), {bs}  # batch size 0: the full training set"
    head = head.format(bs=task.batch_size)
    loads = ["X", "y", "X_test", "y_test"]
    numpy = _prefix(loads, head, ["w", "b"], "numpy") + _code('''
        def loss_and_grads(params, idx):
            """Mean squared error mean((X w + b - y)^2) and its gradient."""
            Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            m = len(Xb)
            err = Xb @ params["w"] + params["b"] - yb
            grads = {"w": (err @ Xb) * (2.0 / m), "b": np.asarray(err.sum() * (2.0 / m))}
            return float(err @ err) / m, grads


        def eval_loss(params):
            err = X_test @ params["w"] + params["b"] - y_test
            return float(err @ err) / len(err)
    ''')
    framework_body = """
        def loss_fn(params, idx):
            Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            err = Xb @ params["w"] + params["b"] - yb
            return (err @ err) / len(err)


        def eval_loss(params):
            {no_grad}err = X_test @ params["w"] + params["b"] - y_test
            {indent}return float(err @ err) / len(err)
    """
    torch_body = framework_body.format(
        no_grad="with torch.no_grad():\n                ", indent="    "
    )
    optax_body = framework_body.format(no_grad="", indent="")
    torch = _prefix(loads, head, ["w", "b"], "torch") + _code(torch_body)
    optax = _prefix(loads, head, ["w", "b"], "optax") + _code(optax_body)
    keras = _prefix(loads, head, ["w", "b"], "keras") + _code(
        optax_body.replace("(params, idx)", "(values, idx)")
        .replace("eval_loss(params)", "eval_loss(values)")
        .replace('params["', 'values["')
    )
    return TaskCode(
        {"numpy": numpy, "torch": torch, "optax": optax, "keras": keras},
        data,
        f"linear regression, {task.n_samples} points, {task.n_features} feature(s), "
        "mean squared error",
    )


def _softmax_mlp(config: Any) -> TaskCode:
    task, init = _engine_init(config)
    data = {
        "X": task.X,
        "labels": task.labels.astype(np.int64),
        "X_test": task.X_test,
        "labels_test": task.labels_test.astype(np.int64),
    }
    data.update({f"init_{k}": np.asarray(v) for k, v in init.items()})
    keys = ["W1", "b1", "W2", "b2"]
    head = f"N_TRAIN, BATCH_SIZE = len(X), {task.batch_size}"
    loads = ["X", "labels", "X_test", "labels_test"]
    classes = (
        f"N_CLASSES = {task.n_out}\n"
        "ONE_HOT = np.eye(N_CLASSES, dtype=DTYPE)\n"
        "Y, Y_test = ONE_HOT[labels], ONE_HOT[labels_test]"
    )
    numpy = _prefix(loads, head + "\n" + classes, keys, "numpy") + _code('''
        def forward(params, Xb, Yb):
            """tanh hidden layer, softmax output: the mean cross-entropy and dLoss/dZ."""
            H = np.tanh(Xb @ params["W1"] + params["b1"])
            Z = H @ params["W2"] + params["b2"]
            Z = Z - Z.max(axis=1, keepdims=True)  # same softmax, no overflow
            E = np.exp(Z)
            s = E.sum(axis=1, keepdims=True)
            m = len(Xb)
            loss = (float(np.log(s).sum()) - float(np.vdot(Z, Yb))) / m
            return loss, H, (E / s - Yb) / m


        def loss_and_grads(params, idx):
            Xb, Yb = (X, Y) if idx is None else (X[idx], Y[idx])
            loss, H, dZ = forward(params, Xb, Yb)
            dH = (dZ @ params["W2"].T) * (1.0 - H * H)
            grads = {
                "W1": Xb.T @ dH,
                "b1": dH.sum(axis=0),
                "W2": H.T @ dZ,
                "b2": dZ.sum(axis=0),
            }
            return loss, grads


        def eval_loss(params):
            return forward(params, X_test, Y_test)[0]
    ''')
    torch = _prefix(loads, head, keys, "torch") + _code("""
        def logits(params, Xb):
            H = torch.tanh(Xb @ params["W1"] + params["b1"])
            return H @ params["W2"] + params["b2"]


        def loss_fn(params, idx):
            Xb, lb = (X, labels) if idx is None else (X[idx], labels[idx])
            return torch.nn.functional.cross_entropy(logits(params, Xb), lb)


        def eval_loss(params):
            with torch.no_grad():
                test_logits = logits(params, X_test)
                return float(torch.nn.functional.cross_entropy(test_logits, labels_test))
    """)
    optax = _prefix(loads, head, keys, "optax") + _code("""
        def logits(params, Xb):
            H = jnp.tanh(Xb @ params["W1"] + params["b1"])
            return H @ params["W2"] + params["b2"]


        def cross_entropy(Z, lb):
            return optax.softmax_cross_entropy_with_integer_labels(Z, lb).mean()


        def loss_fn(params, idx):
            Xb, lb = (X, labels) if idx is None else (X[idx], labels[idx])
            return cross_entropy(logits(params, Xb), lb)


        def eval_loss(params):
            return float(cross_entropy(logits(params, X_test), labels_test))
    """)
    keras = _prefix(loads, head, keys, "keras") + _code("""
        def logits(values, Xb):
            H = jnp.tanh(Xb @ values["W1"] + values["b1"])
            return H @ values["W2"] + values["b2"]


        def cross_entropy(Z, lb):
            log_p = jax.nn.log_softmax(Z, axis=1)
            return -jnp.take_along_axis(log_p, lb[:, None], axis=1).mean()


        def loss_fn(values, idx):
            Xb, lb = (X, labels) if idx is None else (X[idx], labels[idx])
            return cross_entropy(logits(values, Xb), lb)


        def eval_loss(values):
            return float(cross_entropy(logits(values, X_test), labels_test))
    """)
    return TaskCode(
        {"numpy": numpy, "torch": torch, "optax": optax, "keras": keras},
        data,
        f"{task.name}: {task.n_in} inputs -> {task.hidden} tanh -> {task.n_out} softmax, "
        "cross-entropy",
    )


TASKS: dict[str, Callable[[Any], TaskCode]] = {
    "rosenbrock": _rosenbrock,
    "linear-regression": _linear_regression,
    "digits-mlp": _softmax_mlp,
    "blobs-mlp": _softmax_mlp,
}


# -- optimizers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerCode:
    """numpy: `update(p, g, state, lr)` (one parameter, in place); torch: `optimizer` over
    params.values(); optax: `optimizer`, an optax.inject_hyperparams transformation."""

    code: str
    what: str


def _knobs(config: Any, *names: str) -> dict[str, Any]:
    return {n: config.optimizer_hypers.get(n) for n in names}


def _adam(config: Any, fw: str) -> OptimizerCode:
    k = _knobs(config, "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad")
    decoupled = config.optimizer == "adamw"
    wd, ams = k["weight_decay"], k["amsgrad"]
    what = f"{'AdamW' if decoupled else 'Adam'}{' (AMSGrad)' if ams else ''}"
    if fw == "numpy":
        decay = ""
        if wd and decoupled:
            decay = "p *= 1.0 - lr * WEIGHT_DECAY  # decoupled weight decay (AdamW)\n"
        elif wd:
            decay = "g = g + WEIGHT_DECAY * p  # L2 weight decay\n"
        v = "v"
        amsline = ""
        if ams:
            amsline = (
                'vmax = state.setdefault("max_exp_avg_sq", np.zeros_like(p))\n'
                "np.maximum(vmax, v, out=vmax)  # torch's AMSGrad: the max of the raw v\n"
            )
            v = "vmax"
        body = (
            'state["step"] = t = state.get("step", 0) + 1\n'
            + decay
            + 'm = state.setdefault("exp_avg", np.zeros_like(p))\n'
            'v = state.setdefault("exp_avg_sq", np.zeros_like(p))\n'
            "m += (1.0 - BETA1) * (g - m)\n"
            "v *= BETA2\n"
            "v += (1.0 - BETA2) * g * g\n" + amsline + "bias_correction1 = 1.0 - BETA1**t\n"
            "bias_correction2 = 1.0 - BETA2**t\n"
            f"denom = np.sqrt({v}) / math.sqrt(bias_correction2) + EPS\n"
            "p -= (lr / bias_correction1) * m / denom\n"
        )
        code = (
            f"BETA1, BETA2, EPS, WEIGHT_DECAY = {_r(k['beta1'])}, {_r(k['beta2'])}, "
            f"{_r(k['eps'])}, {_r(wd)}\n\n\n"
            f"def update(p, g, state, lr):\n"
            f'    """{what} as torch.optim computes it, on one parameter in place."""\n'
            + textwrap.indent(body, "    ")
        )
        return OptimizerCode(code, what)
    betas = f"({_r(k['beta1'])}, {_r(k['beta2'])})"
    if fw == "torch":
        cls = "AdamW" if decoupled else "Adam"
        code = (
            f"optimizer = torch.optim.{cls}(\n"
            f"    params.values(), lr={_r(k['lr'])}, betas={betas}, eps={_r(k['eps'])},\n"
            f"    weight_decay={_r(wd)}, amsgrad={_r(ams)}\n)\n"
        )
        return OptimizerCode(code, what)
    if ams:
        raise CodegenError(
            "optimizer_hypers: amsgrad: optax's AMSGrad keeps the max of the bias-corrected v̂ "
            "(torch the raw v): not the same run; use --framework torch or numpy"
        )
    common = f"b1={_r(k['beta1'])}, b2={_r(k['beta2'])}, eps={_r(k['eps'])}"
    if decoupled:
        code = (
            "optimizer = optax.inject_hyperparams(optax.adamw)(\n"
            f"    learning_rate={_r(k['lr'])}, {common}, weight_decay={_r(wd)}\n)\n"
        )
    else:
        code = (
            "optimizer = optax.inject_hyperparams(optax.adam)(\n"
            f"    learning_rate={_r(k['lr'])}, {common}\n)\n"
        )
        if wd:
            code += f"L2_WEIGHT_DECAY = {_r(wd)}  # torch's Adam adds λθ to the gradient\n"
    return OptimizerCode(code, what)


def _sgd(config: Any, fw: str) -> OptimizerCode:
    k = _knobs(config, "lr", "momentum", "dampening", "weight_decay", "nesterov")
    mu, damp, wd, nest = k["momentum"], k["dampening"], k["weight_decay"], k["nesterov"]
    what = "SGD" + (f" with {'Nesterov ' if nest else ''}momentum {mu!r}" if mu else "")
    if fw == "numpy":
        body = "g = g + WEIGHT_DECAY * p  # L2 weight decay\n" if wd else ""
        if mu:
            body += (
                'buf = state.get("momentum_buffer")\n'
                "if buf is None:\n"
                '    buf = state["momentum_buffer"] = g.copy()\n'
                "else:\n"
                "    buf *= MOMENTUM\n"
                "    buf += (1.0 - DAMPENING) * g\n"
                + ("g = g + MOMENTUM * buf\n" if nest else "g = buf\n")
            )
        body += "p -= lr * g\n"
        code = (
            f"MOMENTUM, DAMPENING, WEIGHT_DECAY = {_r(mu)}, {_r(damp)}, {_r(wd)}\n\n\n"
            "def update(p, g, state, lr):\n"
            f'    """{what} as torch.optim.SGD computes it: b ← μb + (1 − dampening)g, '
            'θ ← θ − ηb."""\n' + textwrap.indent(body, "    ")
        )
        return OptimizerCode(code, what)
    if fw == "torch":
        code = (
            f"optimizer = torch.optim.SGD(\n    params.values(), lr={_r(k['lr'])}, "
            f"momentum={_r(mu)}, dampening={_r(damp)}, weight_decay={_r(wd)},\n"
            f"    nesterov={_r(nest)}\n)\n"
        )
        return OptimizerCode(code, what)
    if damp:
        raise CodegenError("optimizer_hypers: dampening: optax's SGD has none; use torch or numpy")
    code = (
        "optimizer = optax.inject_hyperparams(optax.sgd)(\n"
        f"    learning_rate={_r(k['lr'])}, momentum={_r(mu) if mu else 'None'}, "
        f"nesterov={_r(bool(nest))}\n)\n"
    )
    if wd:
        code += f"L2_WEIGHT_DECAY = {_r(wd)}  # torch's SGD adds λθ to the gradient\n"
    return OptimizerCode(code, what)


def _rmsprop(config: Any, fw: str) -> OptimizerCode:
    k = _knobs(config, "lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    alpha, eps, wd, mu, centered = (k[n] for n in ("alpha", "eps", "weight_decay", "momentum",
                                                    "centered"))  # fmt: skip
    what = "RMSprop" + (" (centered)" if centered else "") + (f", momentum {mu!r}" if mu else "")
    if fw == "numpy":
        body = "g = g + WEIGHT_DECAY * p  # L2 weight decay\n" if wd else ""
        body += (
            'sq = state.setdefault("square_avg", np.zeros_like(p))\n'
            "sq *= ALPHA\n"
            "sq += (1.0 - ALPHA) * g * g\n"
        )
        if centered:
            body += (
                'ga = state.setdefault("grad_avg", np.zeros_like(p))\n'
                "ga += (1.0 - ALPHA) * (g - ga)\n"
                "avg = np.sqrt(sq - ga * ga) + EPS\n"
            )
        else:
            body += "avg = np.sqrt(sq) + EPS\n"
        if mu:
            body += (
                'buf = state.setdefault("momentum_buffer", np.zeros_like(p))\n'
                "buf *= MOMENTUM\n"
                "buf += g / avg\n"
                "p -= lr * buf\n"
            )
        else:
            body += "p -= lr * g / avg\n"
        code = (
            f"ALPHA, EPS, WEIGHT_DECAY, MOMENTUM = {_r(alpha)}, {_r(eps)}, {_r(wd)}, {_r(mu)}\n\n\n"
            "def update(p, g, state, lr):\n"
            f'    """{what} as torch.optim.RMSprop computes it (ε outside the root)."""\n'
            + textwrap.indent(body, "    ")
        )
        return OptimizerCode(code, what)
    if fw == "torch":
        code = (
            f"optimizer = torch.optim.RMSprop(\n    params.values(), lr={_r(k['lr'])}, "
            f"alpha={_r(alpha)}, eps={_r(eps)}, weight_decay={_r(wd)},\n"
            f"    momentum={_r(mu)}, centered={_r(centered)}\n)\n"
        )
        return OptimizerCode(code, what)
    code = (
        "optimizer = optax.inject_hyperparams(optax.rmsprop)(\n"
        f"    learning_rate={_r(k['lr'])}, decay={_r(alpha)}, eps={_r(eps)}, "
        "eps_in_sqrt=False,  # torch: ε outside the root\n"
        f"    centered={_r(centered)}, momentum={_r(mu) if mu else 'None'}\n)\n"
    )
    if wd:
        code += f"L2_WEIGHT_DECAY = {_r(wd)}  # torch's RMSprop adds λθ to the gradient\n"
    return OptimizerCode(code, what)


def _adagrad(config: Any, fw: str) -> OptimizerCode:
    k = _knobs(config, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    decay, wd, init, eps = (k[n] for n in ("lr_decay", "weight_decay",
                                           "initial_accumulator_value", "eps"))  # fmt: skip
    what = "Adagrad"
    if fw == "numpy":
        body = 'state["step"] = t = state.get("step", 0) + 1\n'
        body += "g = g + WEIGHT_DECAY * p  # L2 weight decay\n" if wd else ""
        body += (
            'total = state.setdefault("sum", np.full_like(p, INITIAL_ACCUMULATOR_VALUE))\n'
            "total += g * g\n"
            "clr = lr / (1.0 + (t - 1) * LR_DECAY)\n"
            "p -= clr * g / (np.sqrt(total) + EPS)\n"
        )
        code = (
            f"LR_DECAY, WEIGHT_DECAY, INITIAL_ACCUMULATOR_VALUE, EPS = {_r(decay)}, {_r(wd)}, "
            f"{_r(init)}, {_r(eps)}\n\n\n"
            "def update(p, g, state, lr):\n"
            '    """Adagrad as torch.optim.Adagrad computes it (ε outside the root)."""\n'
            + textwrap.indent(body, "    ")
        )
        return OptimizerCode(code, what)
    if fw == "torch":
        code = (
            f"optimizer = torch.optim.Adagrad(\n    params.values(), lr={_r(k['lr'])}, "
            f"lr_decay={_r(decay)}, weight_decay={_r(wd)},\n"
            f"    initial_accumulator_value={_r(init)}, eps={_r(eps)}\n)\n"
        )
        return OptimizerCode(code, what)
    raise CodegenError(
        "optimizer: optax's adagrad puts ε inside the root and has no lr_decay: not the same "
        "run; use --framework torch or numpy"
    )


def _keras(config: Any, fw: str) -> OptimizerCode:
    """keras.optimizers' own class for the run's keras flavour (what `flavour = "keras"`
    computes in optplay; tests/engine/fixtures/flavours.npz holds Keras 3's trajectories)."""
    name, h = config.optimizer, config.optimizer_hypers
    lr, wd = _r(h["lr"]), h.get("weight_decay", 0.0)
    if name in ("adam", "amsgrad", "adamw"):
        ams = bool(h.get("amsgrad"))
        cls, what = ("AdamW", "AdamW") if name == "adamw" else ("Adam", "Adam")
        what += " (AMSGrad)" if ams else ""
        decay = f", weight_decay={_r(wd)}" if name == "adamw" else ""
        code = (
            f"optimizer = keras.optimizers.{cls}(\n"
            f"    learning_rate={lr}, beta_1={_r(h['beta1'])}, beta_2={_r(h['beta2'])}, "
            f"epsilon={_r(h['eps'])}{decay},\n    amsgrad={_r(ams)}\n)\n"
        )
        if name == "adamw":
            wd = 0.0  # decoupled: inside keras' AdamW
    elif name in ("sgd", "momentum", "nesterov"):
        mu, nest = h["momentum"], bool(h.get("nesterov"))
        what = "SGD" + (f" with {'Nesterov ' if nest else ''}momentum {mu!r}" if mu else "")
        code = (
            f"optimizer = keras.optimizers.SGD(\n    learning_rate={lr}, momentum={_r(mu)}, "
            f"nesterov={_r(nest)}\n)\n"
        )
    elif name == "rmsprop":
        centered, mu = bool(h["centered"]), h["momentum"]
        what = "RMSprop" + (" (centered)" if centered else "")
        what += f", momentum {mu!r}" if mu else ""
        code = (
            f"optimizer = keras.optimizers.RMSprop(\n    learning_rate={lr}, rho={_r(h['alpha'])}, "
            f"momentum={_r(mu)}, epsilon={_r(h['eps'])},\n    centered={_r(centered)}\n)\n"
        )
    else:  # adagrad (the keras flavour has no lr_decay: optplay refuses one)
        what = "Adagrad"
        code = (
            f"optimizer = keras.optimizers.Adagrad(\n    learning_rate={lr}, "
            f"initial_accumulator_value={_r(h['initial_accumulator_value'])}, "
            f"epsilon={_r(h['eps'])}\n)\n"
        )
    if wd:
        code += f"L2_WEIGHT_DECAY = {_r(wd)}  # optplay's keras flavour adds λθ to the gradient\n"
    return OptimizerCode(code, what + " (Keras 3)")


def optimizer_code(config: Any, fw: str) -> OptimizerCode:
    """The optimizer's code in `fw`: keras.optimizers for the keras flavour, else torch's rules."""
    flavour = config.optimizer_hypers.get("flavour", "torch")
    if fw == "keras":
        if flavour != "keras":
            raise CodegenError(
                f"optimizer_hypers: flavour {flavour}: keras.optimizers compute the keras "
                "flavour; add --set flavour=keras, or use --framework numpy, torch or optax"
            )
        return _keras(config, fw)
    if flavour != "torch":
        where = " (use --framework keras)" if flavour == "keras" else ""
        raise CodegenError(
            f"optimizer_hypers: flavour {flavour} is not written as code for {fw}{where}; the "
            "numpy, torch and optax scripts follow torch's rules (flavour torch)"
        )
    return OPTIMIZERS[config.optimizer](config, fw)


OPTIMIZERS: dict[str, Callable[[Any, str], OptimizerCode]] = {
    "sgd": _sgd,
    "momentum": _sgd,
    "nesterov": _sgd,
    "adam": _adam,
    "amsgrad": _adam,
    "adamw": _adam,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}


# -- schedules ---------------------------------------------------------------------------------


def _constant(config: Any) -> str:
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1 (constant)."""
            return {_r(config.lr)}
    ''')


def _step(config: Any) -> str:
    h = config.schedule_hypers
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1: lr · gamma^(t // step_size) (torch's StepLR)."""
            return {_r(config.lr)} * {_r(h["gamma"])} ** (t // {_r(h["step_size"])})
    ''')


def _multistep(config: Any) -> str:
    h = config.schedule_hypers
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1: lr · gamma^(milestones passed) (torch's MultiStepLR)."""
            passed = sum(1 for milestone in {_r(tuple(h["milestones"]))} if milestone <= t)
            return {_r(config.lr)} * {_r(h["gamma"])} ** passed
    ''')


def _exponential(config: Any) -> str:
    h = config.schedule_hypers
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1: lr · gamma^t (torch's ExponentialLR)."""
            return {_r(config.lr)} * {_r(h["gamma"])} ** t
    ''')


def _cosine(config: Any) -> str:
    h = config.schedule_hypers
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1: half a cosine from lr to min_lr over total_steps, then
            min_lr (torch's CosineAnnealingLR, closed form)."""
            lr, min_lr, total = {_r(config.lr)}, {_r(h["min_lr"])}, {_r(h["total_steps"])}
            if t >= total:
                return min_lr
            return min_lr + (lr - min_lr) * (1.0 + math.cos(math.pi * t / total)) / 2
    ''')


def _warmup_cosine(config: Any) -> str:
    h = config.schedule_hypers
    return _code(f'''
        def lr_at(t):
            """The rate of update t + 1: linear warmup from start_factor · lr to lr, then a
            cosine down to min_lr at total_steps (optax.warmup_cosine_decay_schedule)."""
            peak, min_lr = {_r(config.lr)}, {_r(h["min_lr"])}
            warmup, total = {_r(h["warmup_steps"])}, {_r(h["total_steps"])}
            start = {_r(h["start_factor"])}
            if t < warmup:
                return (start * peak - peak) * (1.0 - t / warmup) + peak
            count = min(t - warmup, total - warmup)
            cosine = 0.5 * (1.0 + math.cos(math.pi * count / (total - warmup)))
            alpha = min_lr / peak
            return peak * ((1.0 - alpha) * cosine + alpha)
    ''')


SCHEDULES: dict[str, Callable[[Any], str]] = {
    "constant": _constant,
    "step": _step,
    "multistep": _multistep,
    "exponential": _exponential,
    "cosine": _cosine,
    "warmup-cosine": _warmup_cosine,
}


# -- the script --------------------------------------------------------------------------------

_BATCHES = '''
def batch_indices(n, batch_size, seed):
    """The rows of each update: one permutation per epoch (the last batch may be short),
    drawn as optplay draws them; None = the whole training set (full batch, no data set)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    while True:
        if n is None or batch_size == 0 or batch_size >= n:
            yield None
            continue
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield perm[start : start + batch_size]
'''

_HEADERS = {
    "numpy": "import numpy as np\n\nDTYPE = np.{dtype}\n",
    "torch": "import numpy as np\nimport torch\n\nDTYPE = torch.{dtype}\n",
    "optax": (
        "import jax\n\n"
        'jax.config.update("jax_enable_x64", True)  # float64, as the run\n\n'
        "import jax.numpy as jnp  # noqa: E402\nimport numpy as np  # noqa: E402\n"
        "import optax  # noqa: E402\n\nDTYPE = jnp.{dtype}\n"
    ),
    "keras": (
        'os.environ["KERAS_BACKEND"] = "jax"  # jax differentiates the loss below\n\n'
        "import jax  # noqa: E402\n\n"
        'jax.config.update("jax_enable_x64", True)  # float64, as the run\n\n'
        "import jax.numpy as jnp  # noqa: E402\nimport keras  # noqa: E402\n"
        "import numpy as np  # noqa: E402\n\n"
        "# The loss is written in jax.numpy (the backend): Keras 3's keras.ops reduce some\n"
        "# float64 arrays in float32 (ops.mean, ops.tanh).\n"
        'DTYPE = "{dtype}"\nkeras.config.set_floatx(DTYPE)\n'
    ),
}

_LOOPS = {
    "numpy": """
state = {name: {} for name in params}  # each parameter has its own optimizer state
batches = batch_indices(N_TRAIN, BATCH_SIZE, SEED)
print(f"step 0 eval_loss {eval_loss(params)!r}")
for step in range(1, STEPS + 1):
    lr = lr_at(step - 1)
    loss, grads = loss_and_grads(params, next(batches))
    for name, p in params.items():
        update(p, grads[name].astype(DTYPE), state[name], lr)
    if EVAL_EVERY and step % EVAL_EVERY == 0:
        print(f"step {step} eval_loss {eval_loss(params)!r}")
""",
    "torch": """
batches = batch_indices(N_TRAIN, BATCH_SIZE, SEED)
print(f"step 0 eval_loss {eval_loss(params)!r}")
for step in range(1, STEPS + 1):
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step - 1)  # the schedule, set before each update
    optimizer.zero_grad()
    loss = loss_fn(params, next(batches))
    loss.backward()
    optimizer.step()
    if EVAL_EVERY and step % EVAL_EVERY == 0:
        print(f"step {step} eval_loss {eval_loss(params)!r}")
""",
    "optax": """
opt_state = optimizer.init(params)
grad_fn = jax.jit(jax.value_and_grad(loss_fn))
batches = batch_indices(N_TRAIN, BATCH_SIZE, SEED)
print(f"step 0 eval_loss {eval_loss(params)!r}")
for step in range(1, STEPS + 1):
    opt_state.hyperparams["learning_rate"] = lr_at(step - 1)  # the schedule
    loss, grads = grad_fn(params, next(batches))
{l2}    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    if EVAL_EVERY and step % EVAL_EVERY == 0:
        print(f"step {step} eval_loss {eval_loss(params)!r}")
""",
}

_LOOPS["keras"] = """
grad_fn = jax.jit(jax.value_and_grad(loss_fn))
batches = batch_indices(N_TRAIN, BATCH_SIZE, SEED)


def values():
    \"\"\"The parameters' current arrays (what jax differentiates).\"\"\"
    return {name: variable.value for name, variable in params.items()}


print(f"step 0 eval_loss {eval_loss(values())!r}")
for step in range(1, STEPS + 1):
    optimizer.learning_rate = lr_at(step - 1)  # the schedule, set before each update
    loss, grads = grad_fn(values(), next(batches))
{l2}    optimizer.apply_gradients([(grads[name], params[name]) for name in params])
    if EVAL_EVERY and step % EVAL_EVERY == 0:
        print(f"step {step} eval_loss {eval_loss(values())!r}")
"""

_L2_KERAS = (
    "    grads = {name: g + L2_WEIGHT_DECAY * params[name].value for name, g in grads.items()}\n"
)

_L2 = "    grads = jax.tree.map(lambda g, p: g + L2_WEIGHT_DECAY * p, grads, params)  # L2 decay\n"

_NEEDS = {
    "numpy": "numpy",
    "torch": "numpy and torch",
    "optax": "numpy, jax and optax",
    "keras": "numpy, jax and keras (Keras 3)",
}


def assemble(
    config: Any,
    steps: int,
    framework: str,
    data_name: str,
    task: TaskCode,
    optimizer: OptimizerCode,
    schedule: str,
) -> str:
    """The whole script."""
    data_line = ""
    if task.data is not None:
        data_line = f"Data and initial parameters: {data_name}, beside this script.\n"
    doc = (
        f'"""{config.task} + {config.optimizer} + {config.schedule}: {steps} updates, seed '
        f"{config.seed}, {config.dtype}.\n\n"
        f"Task: {task.what}.\nOptimizer: {optimizer.what}; schedule: {config.schedule}.\n"
        f"{data_line}"
        f"Written by `optplay code --framework {framework}`; needs {_NEEDS[framework]} only.\n"
        f"Prints the evaluation loss at step 0 and every {config.eval_every} steps, as "
        f'`optplay run`\nrecords it.\n"""\n\n'
    )
    imports = "import math\n" + ("import os\n" if framework == "keras" else "")
    head = imports + "from pathlib import Path\n\n" + _HEADERS[framework].format(dtype=config.dtype)
    constants = f"\nSTEPS = {steps}\nEVAL_EVERY = {config.eval_every}\nSEED = {config.seed}\n"
    if framework == "torch":
        constants += "torch.set_default_dtype(DTYPE)\n"
    if task.data is not None:
        constants += f'data = np.load(Path(__file__).with_name("{data_name}"))\n'
    l2 = ""
    if "L2_WEIGHT_DECAY" in optimizer.code:
        l2 = _L2_KERAS if framework == "keras" else _L2
    parts = [
        doc + head + constants,
        task.setup[framework],
        schedule,
        optimizer.code,
        _BATCHES.strip("\n") + "\n",
        _LOOPS[framework].strip("\n").replace("{l2}", l2) + "\n",
    ]
    text = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    if task.data is None:
        text = text.replace("from pathlib import Path\n", "")
    return text
