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
#: The rows the phase diagram may take (β steps of 0.05, 0.1, 0.2, 0.25: 0.9 or 0.8 is a row).
DIAGRAM_ROWS = (20, 10, 5, 4)

_NAMES = {"gd": "GD", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}

#: The last few answers of `config_theory`, newest last (the Theory tab and the Loss chart
#: ask every frame, with their own step counts; the settings rarely change).
_cache: list[tuple[tuple[Any, int], ConfigTheory]] = []
_CACHED = 4


def config_theory(config: Any, steps: int) -> ConfigTheory:
    """engine.theory.for_config of a run config, predicted over min(steps, PREDICT_HORIZON)
    steps, remembered (the task's analysis is reused while the task and its knobs stay)."""
    key = (config, min(int(steps), PREDICT_HORIZON))
    for cached_key, found in _cache:
        if cached_key == key:
            return found
    reuse = next(
        (
            found.theory
            for (was, _), found in reversed(_cache)
            if (was.task, was.task_hypers) == (config.task, config.task_hypers)
        ),
        None,
    )
    found = for_config(config, key[1], reuse)
    _cache.append((key, found))
    del _cache[:-_CACHED]
    return found


def run_theory(run: Any) -> Any:
    """The exact theory of a run's task (engine.theory.Theory), None when not exact; cheap to
    ask every frame (`config_theory` keeps its answers)."""
    quadratic = getattr(run.task, "quadratic_loss", None)
    if quadratic is None or quadratic() is None:
        return None
    return config_theory(run.config, 1).theory


def _n(value: float | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format_number(value, digits)


def _pad(text: str, width: int) -> str:
    return text[:width].ljust(width)


Segment = tuple[str, Any]  # a piece of a line and its style


def pack(segments: list[Segment], width: int, indent: int = 2) -> list[Text]:
    """Segments laid out in as few lines as fit `width`, broken between segments only (the
    lines after the first indented)."""
    words: list[Segment] = []
    for piece, style in segments:  # a segment wider than a line breaks between its words
        if len(piece) > width - indent:
            words += [(word, style) for word in piece.split(" ") if word]
        else:
            words.append((piece, style))
    lines: list[Text] = [Text()]
    for piece, style in words:
        line = lines[-1]
        sep = " " if line.plain.strip() else ""
        if line.plain and len(line) + len(sep) + len(piece) > width:
            line = Text(" " * indent)
            lines.append(line)
            sep = ""
        line.append(sep + piece, style=style)
    return lines


def theory_lines(
    ct: ConfigTheory, width: int, height: int, colors: dict[str, Any] | None = None
) -> list[Text]:
    """The tab's rows for `ct` at width × height (narrow: a compact table and wrapped lines;
    short: the gauge is left out before the phase diagram, the diagram before the table)."""
    colors = colors or {}
    bold = Style(bold=True)
    th = ct.theory
    lines = pack([(f"{th.task}:", bold), (th.where, bold)], width)
    if not th.known:
        lines.append(Text("no eigenvalues: nothing to show (the Sharpness tab measures networks)"))
        return [_crop(line, width) for line in lines]
    eig = th.eigenvalues
    if eig.size <= 6:
        listed = ", ".join(_n(float(v), 4) for v in eig)
    else:
        listed = f"{_n(float(eig[0]), 4)} … {_n(float(eig[-1]), 4)} ({eig.size} of them)"
    kappa = "inf (a flat direction)" if not math.isfinite(th.condition) else _n(th.condition)
    lines += pack([("Hessian eigenvalues", ""), (f"λ {listed}  ", ""),
                   (f"κ = λmax/λmin = {kappa}", bold)], width)  # fmt: skip
    lines += _table(ct, width)
    lines += _yours(ct, width, colors)
    rest = height - len(lines)
    gauge = _gauge(ct, width, colors)
    title = _diagram_title(ct, width)
    room = rest - len(title) - 1  # the diagram's rows: after its title, before its α axis
    if gauge and room - len(gauge) >= 5:
        lines.extend(gauge)
        room -= len(gauge)
    if room >= 3:
        lines.extend(title)
        lines.extend(_phase_diagram(ct, width, _diagram_rows(room), colors))
    elif gauge and rest >= len(gauge):
        lines.extend(gauge)
    return [_crop(line, width) for line in lines[: max(height, 1)]]


def _table(ct: ConfigTheory, width: int) -> list[Text]:
    """GD, heavy ball and Nesterov: stable lr, optimal lr and momentum, rate at the optimum
    (compact columns below 72 cells)."""
    bold, dim = Style(bold=True), Style(dim=True)
    wide = width >= 72
    name_w, col_w, digits = (20, 13, 6) if wide else (13, 9, 4)
    heads = ("stable lr <", "optimal lr", "momentum", "error×/step")
    if not wide:
        heads = ("lr <", "best lr", "best μ", "rate")
    head = _pad("", name_w) + "".join(_pad(h, col_w) for h in heads[:3]) + heads[3]
    lines = [Text(head, style=dim)]
    for kind in ("gd", "heavy_ball", "nesterov"):
        row = ct.figures[kind]
        label = _NAMES[kind]
        if wide and kind != "gd":
            label += f" μ {_n(ct.momentum, 3)}"
        mark = "▸ " if kind == ct.kind else "  "
        text = Text(mark + _pad(label, name_w - 2), style=bold if kind == ct.kind else "")
        text.append(_pad(_n(row["lr_stable_max"], digits), col_w))
        text.append(_pad(_n(row["lr_opt"], digits), col_w))
        text.append(_pad("0" if kind == "gd" else _n(row["momentum_opt"], digits), col_w))
        text.append(_n(row["rate_opt"], digits))
        lines.append(text)
    if not wide and ct.kind in ("heavy_ball", "nesterov"):
        lines.append(Text(f"  (limits at your μ {_n(ct.momentum, 3)})", style=dim))
    return lines


def _crop(line: Text, width: int) -> Text:
    line = line.copy()
    line.truncate(width)
    return line


def _yours(ct: ConfigTheory, width: int, colors: dict[str, Any]) -> list[Text]:
    """The run's optimizer against the theory, in words."""
    now = Style(color=colors.get("now"), bold=True)
    dim = Style(dim=True)
    if ct.kind is None:
        why = ct.why_not or "the theory covers sgd, momentum and nesterov"
        return pack([(f"{ct.optimizer}:", now), ("no limits or optimum here", ""),
                     (f"({why})", dim)], width)  # fmt: skip
    knobs = f"lr {_n(ct.lr)}" + ("" if ct.kind == "gd" else f" μ {_n(ct.momentum, 4)}")
    segments: list[Segment] = [(f"{NOW} {ct.optimizer}", now), (f"{knobs}:", "")]
    rate, limit = ct.rate_at_lr, ct.lr_limit
    if rate is not None and ct.lr is not None:
        verdict = "converges" if rate < 1.0 else "diverges"
        segments.append((f"error × {_n(rate, 4)}/step, {verdict}", ""))
        if limit is not None and math.isfinite(limit):
            segments[-1] = (segments[-1][0] + ",", "")
            segments.append((f"lr {_n(ct.lr / limit, 3)}× limit", ""))
    if ct.optimum() is not None:
        segments.append((" O: use the optimum", dim))
    return pack(segments, width)


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
    limit_style = Style(color=colors.get("eval"), bold=True)
    styles: dict[int, Style] = {at_limit: limit_style}
    cells[at_limit] = LIMIT
    best_style = Style(color=colors.get("optimum"), bold=True)
    if best:
        cells[col(best["lr"])] = OPTIMUM
        styles[col(best["lr"])] = best_style
    now_style = Style(color=colors.get("now"), bold=True)
    cells[col(lr)] = NOW
    styles[col(lr)] = now_style
    axis = Text(prefix, style=Style(dim=True))
    for c, char in enumerate(cells):
        axis.append(char, style=styles.get(c, Style(dim=True)))
    segments: list[Segment] = [(f"   {NOW} lr {_n(lr)}", now_style)]
    if best:
        at = f" (μ {_n(best['momentum'], 3)})" if "momentum" in best else ""
        segments.append((f" {OPTIMUM} optimal {_n(best['lr'])}{at}", best_style))
    segments += [(f" {LIMIT} limit {_n(limit)}", limit_style), (" ╌ diverges", ""),
                 (f" (log axis {_n(10**lo, 2)}…{_n(10**hi, 2)})", Style(dim=True))]  # fmt: skip
    return [axis, *pack(segments, width, indent=3)]


def _diagram_rows(room: int) -> int:
    """Rows of the phase diagram: β in steps of 0.05, 0.1, 0.2 or 0.25 (so 0.9 or 0.8 is a
    row), as many as fit in `room`."""
    return next((rows for rows in DIAGRAM_ROWS if rows <= room), max(room, 1))


def _diagram_title(ct: ConfigTheory, width: int) -> list[Text]:
    dim = Style(dim=True)
    mine = ct.kind in ("gd", "heavy_ball") and ct.lr is not None
    segments: list[Segment] = [
        ("heavy ball's rate over (α lr, β momentum):", Style(bold=True)),
        (f"{SHADES[::-1]} fast→slow,", dim),
        ("blank diverges,", dim),
        (f"{OPTIMUM} Polyak's optimum" + (f", {NOW} yours" if mine else ""), dim),
    ]
    if not mine:
        segments.append((f"(your {ct.optimizer} is not heavy ball: not marked)", dim))
    return pack(segments, width)


def phase_grid(
    eigenvalues: np.ndarray, cols: int, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alphas, betas, rates): heavy ball's rate at each cell, rows from β = 1 − 1/rows (top)
    down to β = 0, columns from α = 0 to a bit past 4/λ_max (the widest stable lr, β → 1)."""
    alpha_max = 4.2 / float(eigenvalues[-1])
    alphas = (np.arange(cols) + 1) / cols * alpha_max  # α = 0 (no step) is left out
    betas = (rows - 1 - np.arange(rows)) / rows
    return alphas, betas, heavy_ball_rates(eigenvalues, alphas, betas)


def phase_cell(alphas: np.ndarray, betas: np.ndarray, alpha: float, beta: float) -> tuple[int, int]:
    """The (row, column) of the grid point nearest to (α, β), clamped to the grid."""
    rows, cols = len(betas), len(alphas)
    step = alphas[-1] / cols
    c = min(cols - 1, max(0, round(alpha / step) - 1))
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
    out: list[Text] = []
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
        text = ("α " if c == 0 else "") + _n(float(alphas[c]), 2 if c == 0 else 3)
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

    def why_no_cursor(self) -> str:
        """What `i` says here (as a chart's `RunChart.why_no_cursor`): nothing is per step."""
        return (
            "no cursor on this tab: the Theory tab shows figures of the settings, "
            "not a series over steps"
        )

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
        ct = config_theory(view.run.config, 1)  # the figures: no prediction needed
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
