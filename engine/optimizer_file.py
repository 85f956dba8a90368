"""Your own optimizer from a Python file (`optplay run --optimizer-file PATH.py`).

Loading a file RUNS ITS CODE with your permissions: load only files you wrote or trust. A file
is loaded only when named on the command line (`--optimizer-file`), never from an experiment
file. The contract, checked on load (a one-line `OptimizerFileError` names what is missing):

    import numpy as np

    class HeavyBall:
        name = "heavy-ball"                    # optional; default: the file's stem
        hypers = {"lr": 0.01, "momentum": 0.9}  # declared knobs: name -> default (lr required)
        state_names = ("momentum_buffer",)     # optional: the state shown in the State tab

        def init_state(self, params):          # one parameter array -> its state arrays
            return {"momentum_buffer": None}

        def step(self, params, grads, state, lr):  # one array; return the new params
            b = state["momentum_buffer"]
            b = grads.copy() if b is None else b * self.momentum + grads
            state["momentum_buffer"] = b
            return params - lr * b

Knob values are attributes of the instance (`self.momentum`); `lr` is the step's rate (the
schedule's value). `step` is called once per parameter array per step, with `state` the dict
`init_state` returned for it (update it in place); it returns an array of the parameter's
shape (cast to its dtype). The file's optimizer then takes part in every view like a built-in
one (its name in `--optimizer`, `--set lr=...`, the State tab, `--state-out`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import base
from engine.optimizers.base import _LR, _STEP, Optimizer, _KeyState


class OptimizerFileError(ValueError):
    """The file cannot be used as an optimizer (the message names the file and what is wrong)."""


def _hyper(name: str, default: Any) -> Hyper:
    if name == "lr":
        return base._lr(float(default))
    if isinstance(default, bool):
        return Hyper(name, default, kind="bool", help="a knob of the optimizer file")
    if isinstance(default, int):
        return Hyper(name, default, kind="int", help="a knob of the optimizer file")
    return Hyper(name, float(default), help="a knob of the optimizer file")


def load_optimizer_file(path: str | Path) -> str:
    """Run `path`, check its optimizer class against the contract, register it; its name."""
    path = Path(path)
    where = f"--optimizer-file {path}"
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise OptimizerFileError(
            f"{where}: cannot read it ({getattr(err, 'strerror', err)})"
        ) from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as err:
        raise OptimizerFileError(f"{where}: syntax error at line {err.lineno}: {err.msg}") from None
    namespace: dict[str, Any] = {"__name__": f"optplay_file_{path.stem}", "__file__": str(path)}
    try:
        exec(code, namespace)
    except Exception as err:
        raise OptimizerFileError(
            f"{where}: running it raised {type(err).__name__}: {err}"
        ) from None
    classes = [
        v for v in namespace.values()
        if isinstance(v, type) and v.__module__ == namespace["__name__"]
        and (hasattr(v, "step") or hasattr(v, "init_state"))
    ]  # fmt: skip
    if len(classes) != 1:
        found = "no class" if not classes else f"{len(classes)} classes"
        raise OptimizerFileError(
            f"{where}: expected one class with init_state and step, found {found}"
        )
    cls = classes[0]
    for method in ("init_state", "step"):
        if not callable(getattr(cls, method, None)):
            sig = (
                "init_state(params)" if method == "init_state" else "step(params, grads, state, lr)"
            )
            raise OptimizerFileError(f"{where}: class {cls.__name__} has no {sig} method")
    hypers = getattr(cls, "hypers", None)
    if not isinstance(hypers, dict) or "lr" not in hypers:
        raise OptimizerFileError(
            f"{where}: class {cls.__name__} must declare hypers = {{'lr': ..., ...}}"
        )
    bad = [
        k for k, v in hypers.items() if not isinstance(v, int | float) or not str(k).isidentifier()
    ]
    if bad:
        raise OptimizerFileError(f"{where}: hypers {bad[0]!r} must be a number or a bool")
    name = str(getattr(cls, "name", path.stem))
    state_names = tuple(str(s) for s in getattr(cls, "state_names", ()))
    _probe(cls, hypers, where)
    wrapper = _make_optimizer(cls, name, hypers, state_names, path)
    if name in base.names(include_hidden=True) and not getattr(base.get(name), "from_file", False):
        raise OptimizerFileError(f"{where}: name {name!r} is a built-in optimizer: rename it")
    base._REGISTRY._classes[name] = wrapper  # a re-load replaces the earlier file's class
    return name


def _probe(cls: type, hypers: dict, where: str) -> None:
    """Two steps on a small array: a wrong return shape is reported now, not mid-run."""
    try:
        user = cls()
        for k, v in hypers.items():
            setattr(user, k, v)
        p = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
        state = user.init_state(p.copy())
        for t in range(2):
            out = user.step(p.copy(), np.cos(p + t), state, float(hypers["lr"]))
            _check_shape(out, p, where)
            p = np.asarray(out, np.float64)
    except OptimizerFileError:
        raise
    except Exception as err:
        raise OptimizerFileError(
            f"{where}: a trial step raised {type(err).__name__}: {err}"
        ) from None


def _check_shape(out: Any, p: np.ndarray, where: str) -> None:
    shape = getattr(out, "shape", None)
    if shape != p.shape:
        got = base._describe(out) if shape is None else f"shape {list(shape)}"
        raise OptimizerFileError(
            f"{where}: step must return an array of the parameter's shape {list(p.shape)}, "
            f"got {got}"
        )


def _make_optimizer(
    cls: type, name: str, hypers: dict, state_names: tuple[str, ...], path: Path
) -> type[Optimizer]:
    class FileOptimizer(Optimizer):
        __doc__ = f"{cls.__name__} from {path.name} (user code).\n\n{cls.__doc__ or ''}"
        elementwise = False
        from_file = True
        hidden = True  # not in names() (the built-in list); `get(name)` finds it
        source = f"file {path.name} (user code)"
        specs = tuple(_hyper(k, v) for k, v in hypers.items())
        equations = f"θ ← {cls.__name__}.step(θ, g, state, η)   (from {path.name})"
        reference = f"user code: {path.name}"
        state_doc = StateDoc(
            state=(_STEP, *(Quantity(s, s, f"{cls.__name__} state") for s in state_names)),
            derived=(base._alpha("η, the step's rate (the file's rule decides its use)"),),
            scalars=(_LR,),
            summaries=(base._ALPHA_SUMMARY,),
            effective_lr="α = η, the rate handed to the file's step; θ ← step(θ, g, state, α).",
        )

        def __init__(self, **knobs: Any) -> None:
            super().__init__(**knobs)
            self._user = cls()
            self._sync()

        def _sync(self) -> None:
            for k, v in self.hypers.items():
                setattr(self._user, k, v)

        def set_hypers(self, **changes: Any) -> None:
            super().set_hypers(**changes)
            self._sync()

        def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
            st.t += 1
            st.scalars = base.StepRate(lr)
            st.hypers = self.hypers
            state = st.extra.get("user")
            if state is None:
                state = st.extra["user"] = self._user.init_state(p.copy())
            out = self._user.step(p.copy(), g, state, lr)
            _check_shape(out, p, f"optimizer {name}")
            np.copyto(p, np.asarray(out), casting="unsafe")
            for s in state_names:
                value = state.get(s)
                if isinstance(value, np.generic):  # arithmetic on a 0-d array gives these
                    value = np.asarray(value)
                if not (isinstance(value, np.ndarray) and value.shape == p.shape):
                    continue
                buf = st.bufs.get(s)
                if buf is None:
                    st.bufs[s] = value.astype(p.dtype, copy=True)
                else:  # in place: state views handed out (the State tab's) follow the run
                    np.copyto(buf, value, casting="unsafe")

        def _derive(self, st: _KeyState, want: Any, grad: Any, prev: Any) -> dict:
            return {"effective_lr": np.full(st.shape, st.scalars.lr, st.dtype)}

    FileOptimizer.name = name
    FileOptimizer.summary = f"{cls.__name__} from {path.name} (user code)"[:80]
    FileOptimizer.__name__ = f"File{cls.__name__}"
    return FileOptimizer
