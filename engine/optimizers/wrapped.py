"""What the wrapper optimizers (sam, lookahead) share: an inner optimizer named by a knob.

The inner optimizer is any registered optimizer that does not re-evaluate the objective
itself; it is created with its own defaults and stepped at the wrapper's rate (`lr`, and the
schedule's value each step). Changing the `inner` knob starts a fresh inner optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.hyper import Hyper
from engine.optimizers.base import Optimizer, _Arr, _Arrays, _KeyState, _Want, _wants, get, names


def inner_knob(default: str, help: str, wrapper: str) -> Hyper:
    """The `inner` knob of the optimizer named `wrapper`: one of the optimizers listed before
    it (`names()`) that need no closure."""
    listed = names()
    choices = tuple(n for n in listed[: listed.index(wrapper)] if not get(n).needs_closure)
    return Hyper("inner", default, kind="choice", choices=choices, help=help)


class Wrapper(Optimizer):
    """An optimizer stepping an inner one (`self.inner_opt`), created from the `inner` knob."""

    elementwise = False

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self.inner_opt = self._new_inner()

    def _new_inner(self) -> Optimizer:
        return get(self.inner)(lr=self.lr)

    def set_hypers(self, **changes: Any) -> None:
        before = self.inner
        super().set_hypers(**changes)
        if self.inner != before:
            self.inner_opt = self._new_inner()
            self._state.clear()

    def reset(self) -> None:
        super().reset()
        self.inner_opt.reset()

    def _step_inner(
        self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float
    ) -> None:
        """One inner step; a 0-d parameter goes in as a one-element view (every optimizer's
        inspection reads vectors: the same numbers)."""
        self.inner_opt.step(_at_least_1d(params), _at_least_1d(grads), lr=lr)

    def eval_params(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Where the inner optimizer evaluates (schedule-free's x), else None (at params)."""
        shifted = self.inner_opt.eval_params(_at_least_1d(params))
        if shifted is None:
            return None
        return {k: v.reshape(np.shape(params[k])) for k, v in shifted.items()}

    def _inner_alpha(self, key: str, grad: _Arr, prev: _Arr) -> np.ndarray:
        if grad is not None:
            grad = grad.reshape(-1) if grad.ndim == 0 else grad
        if prev is not None:
            prev = prev.reshape(-1) if prev.ndim == 0 else prev
        derived = self.inner_opt.derived(key, grad, prev, want={"effective_lr"})
        return np.array(derived["effective_lr"], copy=True).reshape(self._state[key].shape)

    def _derive_key(self, key: str, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr") and self.inner_opt.has_state(key):
            out["effective_lr"] = self._inner_alpha(key, grad, prev)
        return out

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        key = st.extra["key"]
        return self._derive_key(key, want, grad, prev)


def _at_least_1d(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same arrays, a 0-d one as a one-element view (writes go through)."""
    return {k: v.reshape(1) if v.ndim == 0 else v for k, v in arrays.items()}
