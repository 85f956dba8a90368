"""The benchmark screen: a bench spec (the `benchmark` preset) run in the background.

`engine.bench.run_bench` trains one fresh run per (task, size, optimizer, seed), which takes
seconds to minutes: it runs on a worker thread while this screen shows which run is going
and a progress bar, then the same table `optplay bench` prints and, for a bench over problem
sizes, the bench figure: final loss against size, one line per optimizer (as `optplay plot
--chart bench` draws it). Escape closes the screen and
cancels a benchmark still running (after the chunk in progress). The app stays usable: the
training stream and the benchmark share the CPU.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static
from textual_plotext import PlotextPlot

from engine.bench import BenchProgress, BenchReport, BenchSpec, format_report, run_bench
from tui.dialogs import Dialog

REFRESH_HZ = 10


class _Cancelled(Exception):
    """Raised from the progress callback to stop run_bench early."""


class BenchChart(PlotextPlot):
    """Final loss against problem size, one line per optimizer (a marker of its own each, so
    the lines read without colour)."""

    MARKERS = ("braille", "dot", "+", "x", "*", "o")

    def show(self, groups: list[dict[str, Any]]) -> None:
        from tui.figures import bench_lines

        xlabel, lines = bench_lines(groups)
        plt = self.plt
        plt.clear_data()
        for i, (label, sizes, mean, _, _) in enumerate(lines):
            plt.plot(sizes.tolist(), mean.tolist(), label=label, marker=self.MARKERS[i % 6])
        plt.xscale("log")
        plt.xticks(sorted({float(x) for _, xs, *_ in lines for x in xs}))
        plt.xlabel(xlabel)
        plt.title("final loss (mean over seeds) against problem size")
        self.refresh()


class BenchScreen(Dialog[None]):
    """Run a benchmark and show its table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="close (cancels a running benchmark)")
    ]

    def __init__(self, spec: BenchSpec, title: str = "benchmark", command: str = "") -> None:
        super().__init__()
        self.spec = spec
        self.title_text = title
        self.command = command  # the headless equivalent, e.g. `optplay bench --preset NAME`
        self.report: BenchReport | None = None
        self.error: BaseException | None = None
        self._latest: BenchProgress | None = None  # written by the worker thread
        self._cancelled = False

    def compose(self) -> ComposeResult:
        with Vertical(id="bench-body") as body:
            body.border_title = self.title_text
            body.border_subtitle = "esc closes (and cancels)"
            yield Static("starting…", id="bench-status", markup=False)
            yield ProgressBar(show_eta=False, id="bench-progress")
            with VerticalScroll(id="bench-scroll"):
                yield Static("", id="bench-report", markup=False)

    def on_mount(self) -> None:
        self.every(1 / REFRESH_HZ, self._show_progress, name="bench-progress")
        self._work()

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def _work(self) -> None:
        def progress(p: BenchProgress) -> None:
            if self._cancelled or not self.alive:
                raise _Cancelled
            self._latest = p  # read by the UI timer: no blocking call per chunk

        try:
            report = run_bench(self.spec, progress)
        except _Cancelled:
            return
        except Exception as error:  # shown on the screen; the app stays up
            self.app.call_from_thread(self.while_alive(self._failed), error)
            return
        self.app.call_from_thread(self.while_alive(self._done), report)

    def _show_progress(self) -> None:
        p = self._latest
        if p is None or self.report is not None or self.error is not None:
            return
        size = "" if p.size is None else f" size {p.size}"
        self.query_one("#bench-status", Static).update(
            f"run {p.index}/{p.total}: {p.task}{size} · {p.optimizer} · seed {p.seed} · "
            f"step {p.step}/{p.steps}"
        )
        bar = self.query_one(ProgressBar)
        bar.update(total=p.total * p.steps, progress=(p.index - 1) * p.steps + p.step)

    def _done(self, report: BenchReport) -> None:
        self.report = report
        bar = self.query_one(ProgressBar)
        bar.update(total=1, progress=1)
        also = f" · `{self.command} --out FILE` writes it to a file" if self.command else ""
        self.query_one("#bench-status", Static).update(
            f"done: {len(report.runs)} runs in {report.seconds:.1f} s{also}"
        )
        # Fitted to the dialog (border and padding: 4 cells); the note names what was left out.
        width = self.query_one("#bench-report", Static).size.width or self.app.size.width - 6
        self.query_one("#bench-report", Static).update(Text(format_report(report, width)))
        if any(g.size is not None for g in report.groups):
            chart = BenchChart(id="bench-chart")
            self.query_one("#bench-scroll").mount(chart, before=0)
            chart.show([g.as_dict() for g in report.groups])

    def _failed(self, error: Any) -> None:
        self.error = error
        self.query_one("#bench-status", Static).update(
            f"benchmark failed: {type(error).__name__}: {error}"
        )

    def action_close(self) -> None:
        self._cancelled = True
        self.dismiss(None)
