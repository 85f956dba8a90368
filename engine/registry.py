"""A name -> class registry shared by optimizers, schedules and tasks.

A registered class declares `name`, `summary` (one line for pickers) and `specs` (a tuple of
`Hyper`). It may define a classmethod `check(values)` for constraints between knobs (e.g.
warmup_steps < total_steps); it raises ValueError naming the knob. Classes are built with the
validated knobs as keyword arguments.

A class with `hidden = True` (e.g. a tutorial's formula as written, raced in a lesson) can be
created and named in experiment files like any other, but `names()` leaves it out (so pickers,
listings and "expected one of" messages don't offer it) unless `include_hidden=True`. The
modules that register hidden entries (HIDDEN_MODULES) are imported the first time a name is
not found, so a file naming one works without anyone importing those modules first.

A registry may be told which module registers each shipped entry (`expect`, in the order
`names()` lists them): the module is imported when the entry is first used (`get`, `specs`,
`create`, ...), so naming the entries (`names()`) and using one of them (the app's first run)
do not import every family. `tests/engine/test_registry_order.py` checks every table
against what its modules register.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from engine.hyper import Hyper, _show, validate_all


class Registered:
    """Base of registrable classes: the declarations every registry entry makes, and the
    validated knob values of an instance.

    `specs` (a class attribute) declares the knobs; `hypers` (set on an instance by
    `__init__`) holds their validated values, defaults filled in. With `knob_attributes`,
    each value is also an attribute of the same name (`self.gamma`), so a subclass never
    repeats its knobs in a signature or in assignments."""

    #: What the registry calls its entries ("optimizer"), for messages.
    kind: ClassVar[str] = "entry"
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    specs: ClassVar[tuple[Hyper, ...]] = ()
    knob_attributes: ClassVar[bool] = False
    #: Left out of `Registry.names()` (pickers, listings) unless asked for; still creatable.
    hidden: ClassVar[bool] = False

    def __init__(self, **knobs: Any) -> None:
        # Validated here too (idempotent for values that came through `create`), so a class
        # built directly cannot hold an out-of-range knob either.
        values = validate_all(f"{self.kind} {self.name}", self.specs, knobs)
        type(self).check(values)
        self.hypers: dict[str, Any] = values
        if self.knob_attributes:
            for knob, value in values.items():
                setattr(self, knob, value)

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        """Cross-knob constraints; raise ValueError naming the knob. Default: none."""


T = TypeVar("T", bound=type[Registered])

#: Modules registering hidden entries, by registry kind: the tutorials' formulas that lessons
#: race against the correct optimizers.
HIDDEN_MODULES: dict[str, tuple[str, ...]] = {"optimizer": ("engine.lessons.formulas",)}


class Registry(Generic[T]):
    """Ordered registry of classes by name; `kind` is used in messages ("optimizer")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, T] = {}
        self._hidden_loaded = False
        #: name -> module that registers it, for the entries not imported yet (`expect`).
        self._modules: dict[str, str] = {}

    def expect(self, modules: Mapping[str, str]) -> None:
        """Entries registered by importing a module, each imported when first used: name ->
        module, in the order `names()` lists them (before entries registered otherwise)."""
        self._modules.update(modules)

    def _load(self, name: str) -> None:
        """Import the module registering `name` if it is expected and not registered yet."""
        module = self._modules.get(name)
        if module is not None and name not in self._classes:
            importlib.import_module(module)

    def load_all(self) -> None:
        """Import every expected module (what iterating over all the classes needs)."""
        for module in dict.fromkeys(self._modules.values()):
            importlib.import_module(module)

    def register(self, cls: T) -> T:
        if not cls.name:
            raise TypeError(f"{cls.__name__} has no name")
        expected = self._modules.get(cls.name, cls.__module__)
        if cls.name in self._classes or expected != cls.__module__:
            raise TypeError(f"{self.kind} {cls.name!r} is registered twice")
        self._classes[cls.name] = cls
        return cls

    def _load_hidden(self) -> bool:
        """Import this kind's HIDDEN_MODULES once; True if that was done now."""
        if self._hidden_loaded:
            return False
        self._hidden_loaded = True
        for module in HIDDEN_MODULES.get(self.kind, ()):
            importlib.import_module(module)
        return True

    def names(self, include_hidden: bool = False) -> list[str]:
        """The expected names (`expect`, never hidden), then the other registered ones in
        registration order; hidden entries only with `include_hidden`. Imports nothing else."""
        if include_hidden:
            self._load_hidden()
        others = [
            n
            for n, c in self._classes.items()
            if n not in self._modules and (include_hidden or not c.hidden)
        ]
        return [*self._modules, *others]

    def get(self, name: str) -> T:
        try:
            return self._classes[name]
        except (KeyError, TypeError):  # TypeError: an unhashable "name" (a list, a dict)
            if isinstance(name, str) and name in self._modules:
                self._load(name)
                return self._classes[name]
            if isinstance(name, str) and self._load_hidden() and name in self._classes:
                return self._classes[name]
            allowed = ", ".join(self.names())
            shown = _show(name)
            raise ValueError(f"unknown {self.kind} {shown} (expected one of: {allowed})") from None

    def specs(self, name: str) -> list[Hyper]:
        """The declared knobs of `name` (an instance's `hypers` are its values)."""
        return list(self.get(name).specs)

    def summary(self, name: str) -> str:
        return self.get(name).summary

    def validate(self, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Validated knobs with defaults filled in; ValueError names the bad knob."""
        cls = self.get(name)
        values = validate_all(f"{self.kind} {name}", cls.specs, given)
        cls.check(values)
        return values

    def create(self, name: str, /, *args: Any, **given: Any) -> Any:
        cls = self.get(name)
        return cls(*args, **self.validate(name, given))
