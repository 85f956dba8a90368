"""The async stepping machinery shared by `Run` and `Race`: `Stepper`.

A Stepper streams: it advances in chunks on a worker thread (sized so a chunk takes about
1/30 s), yields a progress snapshot after each chunk, and handles pause / resume / cancel,
a steps-per-second limit (slow motion down to 1 step/s and below) and the measured rate.

A subclass supplies:
- `_step` (int): steps done so far; `_state` (str): one of its states (set "ready" here);
- `_run_chunk(n) -> int`: do up to n steps (called on a worker thread), return how many;
  it may stop early, between steps, when `_halted` is set (pause or cancel pending) or
  `_held` (another thread asked for the interpreter: `hold()`);
- `_end_state(max_steps) -> str | None`: the state the stream ends in now ("finished",
  "diverged"), or None to go on;
- `progress(max_steps)`: the snapshot to yield;
- `_noun` (for the "already streaming" error) and `_first_chunk` (the steps of the first,
  unmeasured chunk).
Its public `stream()` validates nothing itself and returns `self._stream(...)`, so the
arguments are checked when iteration starts, as for an async generator method.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

import numpy as np

_CHUNK_SECONDS = 1 / 30  # a stream chunk's target duration
_MAX_CHUNK = 1_000_000
#: The longest a `hold()` keeps the stream waiting when nobody releases it.
HOLD_SECONDS = 0.05

P = TypeVar("P")


def _is_int(x: Any) -> bool:
    """An integer that is not a bool (numpy integers count)."""
    # np.timedelta64 subclasses np.signedinteger, but int() of one is a TypeError.
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_ | np.timedelta64)


class Stepper(Generic[P]):
    """Pause / resume / cancel / speed / rate measurement and the chunked `_stream` loop."""

    _noun = "stepper"
    _first_chunk = 1

    # Provided by the subclass (see the module docstring).
    _step: int

    def _run_chunk(self, n: int) -> int:
        raise NotImplementedError

    def _end_state(self, max_steps: int | None) -> str | None:
        raise NotImplementedError

    def progress(self, max_steps: int | None = None) -> P:
        raise NotImplementedError

    def __init__(self) -> None:
        self._state = "ready"
        self._pause_requested = False
        self._cancel_requested = False
        self._halted = False  # pause or cancel pending: the stream worker stops between steps
        self._held = False  # hold() pending: the worker stops between steps, the stream waits
        self._streaming = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._speed: float | None = None
        self._speed_version = 0
        self._rate_window: deque[tuple[float, int]] = deque()

    @property
    def state(self) -> str:
        return self._state

    @property
    def streaming(self) -> bool:
        """True while a stream is active (running or paused inside `stream()`)."""
        return self._streaming

    @property
    def rate(self) -> float:
        """Steps per second measured over about the last second of a running stream (0 when
        idle or paused)."""
        return self._measured_rate()

    # -- controls (callable from any thread) -----------------------------------------------

    @property
    def steps_per_second(self) -> float | None:
        """The stream's rate limit in steps per second (None = as fast as possible)."""
        return self._speed

    @steps_per_second.setter
    def steps_per_second(self, value: float | None) -> None:
        self.set_speed(value)

    def set_speed(self, steps_per_second: float | None) -> None:
        """Set the rate limit (e.g. 1 for slow motion; None = as fast as possible); takes
        effect at once, also mid-stream."""
        if steps_per_second is not None:
            ok = isinstance(steps_per_second, int | float) and not isinstance(
                steps_per_second, bool
            )
            if not ok or not (math.isfinite(steps_per_second) and steps_per_second > 0):
                raise ValueError(
                    f"steps_per_second must be a number in (0, inf) or None, "
                    f"got {steps_per_second!r}"
                )
            steps_per_second = float(steps_per_second)
        self._speed = steps_per_second
        self._speed_version += 1
        self._notify()

    def pause(self) -> None:
        """Stop stepping after the step in progress (a Run) or the lockstep chunk in progress
        (a Race); a stream yields one "paused" snapshot and waits (state "paused")."""
        if self._state == "diverged":
            return
        self._pause_requested = True
        self._halted = True
        self._state = "paused"
        self._notify()

    def resume(self) -> None:
        """Continue after pause()."""
        if not self._pause_requested:
            return
        self._pause_requested = False
        self._halted = self._cancel_requested
        if self._state == "paused":
            self._state = "running" if self._streaming else "ready"
        self._notify()

    def cancel(self) -> None:
        """End the active stream after the step (Run) or chunk (Race) in progress, never
        mid-step."""
        if not self._streaming:
            return
        self._cancel_requested = True
        self._halted = True
        self._notify()

    def hold(self) -> None:
        """Ask a running stream to stand aside for a moment: its worker stops after the step
        in progress (a Race: after the lockstep slice in progress) and the stream waits until
        `release()`, or HOLD_SECONDS at most. A UI answering a key holds the stream so the
        interpreter is its own until the screen shows the answer (the worker thread would
        otherwise take every other turn of the interpreter lock). Nothing when not
        streaming; no step is skipped or changed."""
        if self._streaming:
            self._held = True

    def release(self) -> None:
        """End a `hold()` (from any thread)."""
        if self._held:
            self._held = False
            self._notify()

    @property
    def held(self) -> bool:
        return self._held

    def _stop_for_reset(self) -> None:
        """reset() ends an active stream and drops a pending pause."""
        if self._streaming:
            self._cancel_requested = True
            self._halted = True
        self._pause_requested = False

    def _notify(self) -> None:
        """Wake a stream waiting for pause/resume/speed changes (from any thread)."""
        loop, event = self._loop, self._wake_event
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop closed
                pass

    # -- measured rate ---------------------------------------------------------------------

    def _measured_rate(self) -> float:
        w = self._rate_window
        if len(w) < 2 or self._state != "running":
            return 0.0  # measured while streaming; an idle or paused run does 0 steps/s
        (t0, s0), (t1, s1) = w[0], w[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def _mark_rate(self) -> None:
        now = time.perf_counter()
        w = self._rate_window
        w.append((now, self._step))
        while len(w) > 2 and now - w[1][0] >= 1.0:  # keep about the last second
            w.popleft()

    # -- the stream ------------------------------------------------------------------------

    async def _stream(
        self, max_steps: int | None = None, steps_per_second: float | None = None
    ) -> AsyncIterator[P]:
        """The body of the subclass's `stream()` (its docstring tells the semantics)."""
        if max_steps is not None:
            if not _is_int(max_steps) or max_steps < 0:
                raise ValueError(f"max_steps must be an integer >= 0 or None, got {max_steps!r}")
            max_steps = int(max_steps)
        if self._streaming:
            raise RuntimeError(f"this {self._noun} is already streaming")
        self.set_speed(steps_per_second)
        self._loop = asyncio.get_running_loop()
        self._wake_event = wake = asyncio.Event()
        self._streaming = True
        self._cancel_requested = False
        self._halted = self._pause_requested
        self._rate_window.clear()
        sec_per_step: float | None = None
        anchor: tuple[float, int, int] | None = None  # (time, step, speed version) for pacing
        reported_paused_at: int | None = None
        try:
            while True:
                wake.clear()
                if self._cancel_requested:
                    break
                if self._held:
                    try:  # release() sets wake; an unreleased hold lapses
                        await asyncio.wait_for(wake.wait(), HOLD_SECONDS)
                    except TimeoutError:
                        pass
                    self._held = False
                    continue  # re-check cancel, pause and speed
                end = self._end_state(max_steps)
                if end is not None:
                    self._state = end
                    yield self.progress(max_steps)
                    break
                if self._pause_requested:
                    self._state = "paused"
                    anchor = None
                    self._rate_window.clear()
                    if reported_paused_at != self._step:
                        reported_paused_at = self._step
                        yield self.progress(max_steps)
                        continue
                    await wake.wait()
                    continue
                reported_paused_at = None
                self._state = "running"

                speed = self._speed
                if speed is None:
                    anchor = None
                    n = (
                        self._first_chunk
                        if sec_per_step is None
                        else int(_CHUNK_SECONDS / sec_per_step)
                    )
                else:
                    now = time.perf_counter()
                    if anchor is None or anchor[2] != self._speed_version:
                        anchor = (now, self._step, self._speed_version)
                    due = anchor[0] + (self._step - anchor[1]) / speed
                    if due - now > 1e-4:
                        try:
                            await asyncio.wait_for(wake.wait(), due - now)
                        except TimeoutError:
                            pass
                        continue  # re-check pause/cancel/speed before stepping
                    if now - due > 0.25:  # can't keep up: don't burst to catch up
                        anchor = (now, self._step, self._speed_version)
                    n = max(1, int(speed * _CHUNK_SECONDS))
                    if sec_per_step is not None:
                        n = min(n, int(_CHUNK_SECONDS / sec_per_step))
                n = max(1, min(n, _MAX_CHUNK))
                if max_steps is not None:
                    n = min(n, max_steps - self._step)

                if not self._rate_window:
                    self._mark_rate()
                t0 = time.perf_counter()
                done = await asyncio.to_thread(self._run_chunk, n)
                elapsed = time.perf_counter() - t0
                if done:
                    per = elapsed / done
                    sec_per_step = per if sec_per_step is None else 0.5 * sec_per_step + 0.5 * per
                self._mark_rate()

                end = self._end_state(max_steps)
                if end is not None:
                    self._state = end
                elif self._cancel_requested:
                    self._state = "ready"
                elif self._pause_requested:
                    self._state = "paused"
                    reported_paused_at = self._step
                yield self.progress(max_steps)
                if end is not None:
                    break
        finally:
            self._streaming = False
            self._held = False
            self._wake_event = None
            self._loop = None
            if self._state == "running":
                self._state = "ready"
            elif self._state == "paused" and self._cancel_requested:
                self._state = "ready"
                self._pause_requested = False
            self._cancel_requested = False
            self._halted = self._pause_requested
