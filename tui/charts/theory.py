"""The Theory tab: the exact quadratic theory of the task beside the run's own settings.

For a task whose loss is exactly quadratic (engine/theory.py: quadratic, ill-conditioned,
linear-regression at full batch) the tab shows, for the run's current settings:

- where the figures hold ("exact: the loss is quadratic", or "near the minimum"), the
  eigenvalues of the Hessian and κ;
- a table of GD, heavy ball and Nesterov: the largest stable lr (at the optimizer's momentum,
  or 0.9), the optimal lr and momentum, and the error's contraction per step at the optimum;
- the optimizer's own lr: its contraction per step, and where it sits on a log lr axis against
  the optimum (◆) and the stability limit (│; beyond it the axis is dashed: diverges);
- heavy ball's rate phase diagram over (α, β) (Distill's "Why Momentum Really Works"): each
  cell shaded by how fast the error decays there, relative to Polyak's optimum (◆, the fastest
  point); blank cells diverge; the run's own (lr, momentum) is ●.

It reads without colour: shades are glyphs, marks are glyphs. `O` (the app's use_optimum)
sets the optimizer to the optimum shown. The tab draws like a chart for `ChartPanel`
(data_key, drawn_key, draw); its text comes from `theory_lines`, which the tests read.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from engine.numbers import format_number
from engine.theory import ConfigTheory, for_config, heavy_ball_rates, polyak_optimum
from tui.charts.base import ChartView

#: Steps the predicted loss is computed for at most (the Loss tab draws it up to here): the
#: recurrences are a Python loop, ~20 µs a step, done once per setting.
PREDICT_HORIZON = 5000
#: The phase diagram's shades, slowest to fastest (the error's decay per step relative to
#: Polyak's optimum: log rate / log rate*, in fifths); a diverging cell is blank.
SHADES = "·░▒▓█"
#: The run's own point, the optimum and the stability limit.
NOW, OPTIMUM, LIMIT = "●", "◆", "│"
#: The most rows the phase diagram takes.
MAX_DIAGRAM_ROWS = 16

_NAMES = {"gd": "GD", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}

_cache: list[tuple[tuple[Any, int], ConfigTheory]] = []


def config_theory(config: Any, steps: int) -> ConfigTheory:
    """engine.theory.for_config of a run config, predicted over min(steps, PREDICT_HORIZON)
    steps; the last answer is kept (charts ask every frame, the settings rarely change)."""
    key = (config, min(int(steps), PREDICT_HORIZON))
    if _cache and _cache[0][0] == key:
        return _cache[0][1]
    reuse = None
    if _cache:
        was = _cache[0][0][0]
        if (was.task, was.task_hypers) == (config.task, config.task_hypers):
            reuse = _cache[0][1].theory
    found = for_config(config, key[1], reuse)
    _cache[:] = [(key, found)]
    return found


def _n(value: float | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format_number(value, digits)


def _pad(text: str, width: int) -> str:
    return text[:width].ljust(width)


def theory_lines(
    ct: ConfigTheory, width: int, height: int, colors: dict[str, Any] | None = None
) -> list[Text]:
    """The tab's rows for `ct` at width × height (rows that do not fit are left out: the
    gauge before the phase diagram, the diagram before the table)."""
    colors = colors or {}
    bold, dim = Style(bold=True), Style(dim=True)
    th = ct.theory
    lines = [Text(f"{th.task}: {th.where}"[:width], style=bold)]
    if not th.known:
        lines.append(Text("no eigenvalues: nothing to show (the Sharpness tab measures networks)"))
        return [_crop(line, width) for line in lines]
    eig = th.eigenvalues
    if eig.size <= 6:
        listed = ", ".join(_n(float(v), 4) for v in eig)
    else:
        listed = f"{_n(float(eig[0]), 4)} … {_n(float(eig[-1]), 4)} ({eig.size} of them)"
    kappa = "inf (a flat direction)" if not math.isfinite(th.condition) else _n(th.condition)
    lines.append(Text(f"Hessian eigenvalues λ {listed}   κ = λmax/λmin = {kappa}"))
    fig = ct.figures
    name_w = 20
    head = _pad("", name_w) + _pad("stable lr <", 13) + _pad("optimal lr", 13)
    head += _pad("momentum", 11) + "error×/step"
    lines.append(Text(head, style=dim))
    for kind in ("gd", "heavy_ball", "nesterov"):
        row = fig[kind]
        label = _NAMES[kind] if kind == "gd" else f"{_NAMES[kind]} μ {_n(ct.momentum, 3)}"
        mark = "▸ " if kind == ct.kind else "  "
        text = Text(mark + _pad(label, name_w - 2), style=bold if kind == ct.kind else "")
        text.append(_pad(_n(row["lr_stable_max"]), 13))
        text.append(_pad(_n(row["lr_opt"]), 13))
        text.append(_pad("0" if kind == "gd" else _n(row["momentum_opt"]), 11))
        text.append(_n(row["rate_opt"]))
        lines.append(text)
    lines.append(_yours(ct, width, colors))
    rest = height - len(lines)
    gauge = _gauge(ct, width, colors)
    diagram_rows = rest - (len(gauge) if rest >= len(gauge) + 6 else 0) - 3
    if gauge and rest >= len(gauge) + 6:
        lines.extend(gauge)
    if diagram_rows >= 3:
        lines.extend(_phase_diagram(ct, width, min(diagram_rows, MAX_DIAGRAM_ROWS), colors))
    elif gauge and rest >= len(gauge):
        lines.extend(gauge)
    return [_crop(line, width) for line in lines[: max(height, 1)]]


def _crop(line: Text, width: int) -> Text:
    line = line.copy()
    line.truncate(width)
    return line


def _yours(ct: ConfigTheory, width: int, colors: dict[str, Any]) -> Text:
    """The run's optimizer against the theory, in words."""
    now = Style(color=colors.get("now"), bold=True)
    if ct.kind is None:
        why = ct.why_not or "the theory covers sgd, momentum and nesterov"
        return Text(f"{ct.optimizer}: no limits or optimum here ({why})")
    text = Text(f"{NOW} {ct.optimizer} ", style=now)
    knobs = f"lr {_n(ct.lr)}"
    if ct.kind != "gd":
        knobs += f" μ {_n(ct.momentum, 4)}"
    text.append(knobs)
    rate, limit = ct.rate_at_lr, ct.lr_limit
    if rate is None or ct.lr is None:
        return text
    verdict = "converges" if rate < 1.0 else "diverges"
    text.append(f": error × {_n(rate, 4)}/step, {verdict}")
    if limit is not None and math.isfinite(limit):
        text.append(f", lr {_n(ct.lr / limit, 3)}× limit")
    hint = "  O: use the optimum"
    if ct.optimum() is not None and len(text) + len(hint) <= width:
        text.append(hint, style=Style(dim=True))
    return text


def _gauge(ct: ConfigTheory, width: int, colors: dict[str, Any]) -> list[Text]:
    """A log lr axis: the run's lr ●, the optimum ◆, the limit │ (dashed beyond: diverges)."""
    best, limit, lr = ct.optimum(), ct.lr_limit, ct.lr
    if lr is None or lr <= 0.0 or limit is None or not math.isfinite(limit):
        return []
    points = [lr, limit] + ([best["lr"]] if best else [])
    lo = math.log10(min(points)) - 0.5
    hi = math.log10(max(points)) + 0.5
    prefix = "lr "
    cols = max(width - len(prefix) - 1, 10)

    def col(value: float) -> int:
        return min(cols - 1, max(0, round((math.log10(value) - lo) / (hi - lo) * (cols - 1))))

    cells = ["─"] * cols
    at_limit = col(limit)
    for c in range(at_limit + 1, cols):
        cells[c] = "╌"
    styles: dict[int, Style] = {at_limit: Style(color=colors.get("eval"), bold=True)}
    cells[at_limit] = LIMIT
    if best:
        cells[col(best["lr"])] = OPTIMUM
        styles[col(best["lr"])] = Style(color=colors.get("optimum"), bold=True)
    cells[col(lr)] = NOW
    styles[col(lr)] = Style(color=colors.get("now"), bold=True)
    axis = Text(prefix, style=Style(dim=True))
    for c, char in enumerate(cells):
        axis.append(char, style=styles.get(c, Style(dim=True)))
    legend = Text("   ")
    legend.append(f"{NOW} lr {_n(lr)}  ", style=styles[col(lr)])
    if best:
        at = f" (μ {_n(best['momentum'], 3)})" if "momentum" in best else ""
        legend.append(f"{OPTIMUM} optimal {_n(best['lr'])}{at}  ")
    legend.append(f"{LIMIT} limit {_n(limit)}  ╌ diverges  ")
    legend.append(f"(log {_n(10**lo, 2)}…{_n(10**hi, 2)})", style=Style(dim=True))
    return [axis, legend]


def phase_grid(
    eigenvalues: np.ndarray, cols: int, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alphas, betas, rates): heavy ball's rate at each cell, rows from β = 1 − 1/rows (top)
    down to β = 0, columns from α = 0 to a bit past 4/λ_max (the widest stable lr, β → 1)."""
    alpha_max = 4.2 / float(eigenvalues[-1])
    alphas = np.arange(cols) / max(cols - 1, 1) * alpha_max
    betas = (rows - 1 - np.arange(rows)) / rows
    return alphas, betas, heavy_ball_rates(eigenvalues, alphas, betas)


def phase_cell(alphas: np.ndarray, betas: np.ndarray, alpha: float, beta: float) -> tuple[int, int]:
    """The (row, column) of the grid point nearest to (α, β), clamped to the grid."""
    rows, cols = len(betas), len(alphas)
    step = alphas[-1] / max(cols - 1, 1)
    c = min(cols - 1, max(0, round(alpha / step)))
    r = min(rows - 1, max(0, rows - 1 - round(beta * rows)))
    return r, c


def _phase_diagram(ct: ConfigTheory, width: int, rows: int, colors: dict[str, Any]) -> list[Text]:
    th = ct.theory
    if th.lam_min <= 0.0:
        return [Text("no phase diagram: a flat direction (κ = inf) never converges")]
    prefix_w = 7
    cols = max(width - prefix_w, 10)
    alphas, betas, rates = phase_grid(th.eigenvalues, cols, rows)
    a_star, b_star, r_star = polyak_optimum(th.lam_min, th.lam_max)
    # Speed relative to the optimum (κ near 1: relative to a rate of 0.05, as the optimum's
    # rate is then ~0 and everything else would look slow).
    reference = math.log(max(r_star, 0.05))
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.log(rates) / reference
    level = np.clip(np.nan_to_num(speed * len(SHADES)).astype(int), 0, len(SHADES) - 1)
    shade = Style(color=colors.get("train"))
    marks: dict[tuple[int, int], tuple[str, Style]] = {
        phase_cell(alphas, betas, a_star, b_star): (
            OPTIMUM,
            Style(color=colors.get("optimum"), bold=True),
        )
    }
    mine = ct.kind in ("gd", "heavy_ball") and ct.lr is not None
    if mine:
        mu = ct.momentum if ct.kind == "heavy_ball" else 0.0
        lr = float(ct.lr) * (1.0 - ct.dampening)
        marks[phase_cell(alphas, betas, lr, mu)] = (NOW, Style(color=colors.get("now"), bold=True))
    dim = Style(dim=True)
    legend = f"{SHADES[::-1]} fast→slow, blank diverges, {OPTIMUM} Polyak"
    legend += f", {NOW} yours" if mine else f" ({ct.optimizer}: not marked)"
    head = "heavy ball's rate over (α lr, β momentum): "
    if len(head) + len(legend) > width:
        head = "heavy ball (α, β): "
    title = Text(head, style=Style(bold=True))
    title.append(legend, style=dim)
    out = [title]
    labelled = {0, rows // 2, rows - 1}
    for r in range(rows):
        label = f"β {betas[r]:.2f}" if r in labelled else ""
        line = Text(label.rjust(prefix_w - 1) + " ", style=dim)
        for c in range(cols):
            if (r, c) in marks:
                char, style = marks[(r, c)]
                line.append(char, style=style)
            elif not rates[r, c] < 1.0:
                line.append(" ")
            else:
                line.append(SHADES[level[r, c]], style=shade)
        out.append(line)
    axis = [" "] * cols
    for c in (0, cols // 2, cols - 1):
        text = ("α " if c == 0 else "") + _n(float(alphas[c]), 3)
        start = min(max(0, c - len(text) // 2 if c else 0), cols - len(text))
        axis[start : start + len(text)] = list(text)
    out.append(Text(" " * prefix_w + "".join(axis), style=dim))
    return out


class TheoryTab(Static):
    """The Theory tab (see the module docstring); draws like a chart for `ChartPanel`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "theory--now",
        "theory--optimum",
        "theory--train",
        "theory--eval",
    }
    DEFAULT_CSS: ClassVar[str] = """
    TheoryTab { height: 1fr; width: 1fr; }
    TheoryTab > .theory--now { color: $text-error; }
    TheoryTab > .theory--optimum { color: $text-success; }
    TheoryTab > .theory--train { color: $text-primary; }
    TheoryTab > .theory--eval { color: $text-warning; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.drawn_key: tuple[Any, ...] | None = None
        self.log_y = False  # nothing to put on a log scale (ChartPanel asks)
        self.lines: list[Text] = []

    def color(self, role: str) -> Color | None:
        return self.get_component_rich_style(f"theory--{role}").color

    def data_key(self, view: ChartView) -> tuple[Any, ...]:
        # The figures depend on the settings only, not on the steps taken.
        run = view.run
        return (id(run), view.version, run.config, self.size.width, self.size.height,
                self.app.theme)  # fmt: skip

    def draw(self, view: ChartView) -> None:
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return
        ct = config_theory(view.run.config, view.planned_steps)
        colors = {role: self.color(role) for role in ("now", "optimum", "train", "eval")}
        self.lines = theory_lines(ct, width, height, colors)
        text = Text("\n").join(self.lines)
        text.no_wrap = True
        text.overflow = "crop"
        self.update(text)
        self.drawn_key = self.data_key(view)

    @property
    def plain(self) -> str:
        """What the tab says (for tests)."""
        return "\n".join(line.plain for line in self.lines)
