"""Every action of the app, declared once: key, key-bar label, help text, palette entry, when
it applies and how important it is. The bindings, the key bar, the help screen's key list and
the command palette are all built from `ACTIONS` (as davep/hike declares its commands).

`when` names an entry of `SessionView.available` (engine/session.py): the action is shown and
offered only while the session says it applies (pin only for a single run, leave the race only
during one...). Actions without `when` always apply. `rank` orders what the key bar leaves out
when the terminal is narrow (higher ranks go first; everything stays in the help and palette).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from tui.charts.tabs import DIGIT_KEYS


@dataclass(frozen=True)
class Action:
    """One thing the user can do."""

    name: str  # the App method is action_<name>
    keys: str  # Textual key names, comma separated
    label: str  # key-bar label
    help: str  # the help screen's line, and the palette entry's description
    title: str | None  # the palette entry (None: not in the palette)
    key_display: str | None = None
    footer: bool = True  # shown in the key bar (when it fits)
    priority: bool = False  # acts even while a form field has focus
    when: str | None = None  # an entry of SessionView.available, or None: always
    rank: int = 5  # key bar: higher ranks are left out first when the row is too narrow
    per_key: bool = False  # each key calls action_<name>(key) (e.g. the tab digits)

    @property
    def shown_key(self) -> str:
        """The key as people read it ("+", "ctrl+s", "space")."""
        return self.key_display or self.keys.split(",")[0]

    def bindings(self) -> list[Binding]:
        if self.per_key:
            action = self.name
            return [
                Binding(key, f"{action}('{key}')", self.label, show=False, priority=self.priority)
                for key in self.keys.split(",")
            ]
        binding = Binding(
            self.keys,
            self.name,
            self.label,
            show=False,  # the key bar (tui/widgets/keybar.py) shows them
            key_display=self.key_display,
            priority=self.priority,
            id=self.name,
            tooltip=self.help,
        )
        return [binding]


ACTIONS: tuple[Action, ...] = (
    # space is a priority key: run/pause works wherever the focus is, also in the form
    # (its fields hold numbers, never spaces).
    Action("toggle_run", "space", "Run/pause", "start, pause or continue training",
           "Run / pause", priority=True, rank=0),
    Action("step", "n", "Step", "one update, then pause", "Step once", rank=1),
    Action("reset", "r", "Reset", "start over from step 0 with the settings shown", "Reset run",
           rank=1),
    Action("faster", "plus,equals_sign", "Faster",
           "raise the speed limit (steps per second, up to max)", "Faster", key_display="+",
           rank=3),
    Action("slower", "minus", "Slower", "lower the speed limit (down to 1 step per second)",
           "Slower", key_display="-", rank=3),
    Action("next_tab", "right_square_bracket", "Tab", "next chart tab (from anywhere)",
           "Next chart tab", key_display="]", priority=True, rank=2),
    Action("prev_tab", "left_square_bracket", "Tab", "previous chart tab (from anywhere)",
           "Previous chart tab", key_display="[", priority=True, footer=False),
    Action("tab", ",".join(DIGIT_KEYS), "Tab",
           f"chart tab 1-{DIGIT_KEYS[-1]} (outside a text field)", None,
           key_display=f"1-{DIGIT_KEYS[-1]}", per_key=True, footer=False),
    Action("toggle_log", "l", "Log", "log scale on the y axis of the chart in view",
           "Toggle log scale", rank=4),
    Action("chart_cursor", "i", "Cursor",
           "a cursor on the chart reading every series or lane at a step: ←/→ a step, "
           "shift+←/→ 10%, z zooms around it, Z back, enter on Path starts the run there "
           "(a click does too), i or esc leaves; Sharpness and State stop at the steps "
           "measured; none on Theory and Model (not series over steps)", "Chart cursor",
           footer=False),
    Action("toggle_smoothing", "S", "Smooth",
           "smooth the training loss (EMA, as TensorBoard does); the raw band stays",
           "Toggle smoothing", rank=6),
    Action("eigen_components", "y", "Eigen",
           "Loss tab: the predicted loss split into its eigen-directions, ½λe² each (exact "
           "theory only), and back", "Loss split by eigen-direction", footer=False),
    Action("toggle_sidebar", "b", "Sidebar",
           "show or hide the settings column (hidden by itself below 90 columns)",
           "Toggle sidebar", rank=2),
    Action("help", "question_mark", "Help", "this help: the optimizer's update rule and the keys",
           "Help", key_display="?", footer=False),
    Action("quit", "q", "Quit", "quit optplay (asks first when the experiment has unsaved "
           "changes)", None, rank=0),
    Action("save", "ctrl+s", "Save", "save the settings as an experiment file (TOML)",
           "Save experiment", footer=False),
    Action("race", "c", "Race", "race 2-6 optimizers on the same task, seed and data",
           "Race optimizers", rank=3),
    Action("pin", "p", "Pin", "pin this run as a named overlay; the live run starts over",
           "Pin run", when="pin", rank=4),
    Action("leave_race", "x", "One run", "leave the race: back to one run", "Leave race",
           when="leave_race", rank=2),
    Action("table", "t", "Table",
           "results table: final/best loss, steps to target, time per step", "Results table",
           when="table", rank=3),
    Action("export", "e", "Export", "write the history of every run shown (CSV and JSON; its "
           "optimizer-state summaries too, once the State tab recorded them)",
           "Export history", rank=5),
    Action("presets", "o", "Presets", "open a shipped preset", "Presets", rank=5),
    # Not in the footer (full at 80 columns); the lesson line shows both keys.
    Action("lessons", "L", "Lessons",
           "lessons: the tutorials' claims as experiments; choose one to load it", "Lessons",
           footer=False),
    Action("verdict", "v", "Verdict",
           "the lesson loaded: its claim, and its verdict (the numbers measured) once it ended",
           "Lesson verdict", footer=False, when="lesson"),
    # The Model tab (tui/charts/model/): what the network or the fitted line learned.
    Action("model_lane", "m", "Lane", "Model tab: show the next lane (one at a time, the "
           "leader first)", "Model tab: next lane", when="model_lane",
           rank=4),
    Action("model_points", "d", "Points", "Model tab: test points instead of training "
           "points on the decision regions, and back", "Model tab: training / test points",
           when="model_points", rank=6),
    Action("norms_series", "u", "Series", "Norms tab with several lanes: gradient norm, "
           "update norm or update/grad ratio per lane, one at a time", "Norms tab: next series",
           footer=False),
    Action("runs", "R", "Runs", "stored runs: every run kept across sessions; open one as the "
           "run or pin it beside the current one", "Stored runs", footer=False),
    Action("export_picture", "E", "Picture", "the chart in view as PNG and SVG and the whole "
           "screen as SVG, into the working folder", "Export chart picture", footer=False),
    Action("sweep", "s", "Sweep", "final loss against lr (or any knob) per optimizer, a fresh "
           "run per point; open any point as the run", "Sweep a knob", rank=5),
    Action("code", "C", "Code", "the run as a standalone script (numpy by default; torch, "
           "optax or keras after the name) with its data, into the working folder",
           "Experiment as code", footer=False),
    Action("use_optimum", "O", "Optimum", "set sgd, momentum or nesterov to the task's optimal "
           "lr (and momentum) from the exact theory, and say what was set",
           "Use the theory's optimal rate", footer=False, when="optimum"),
)  # fmt: skip

BY_NAME = {action.name: action for action in ACTIONS}

#: Keys handled by widgets, listed in the help screen after the actions.
WIDGET_KEYS: tuple[tuple[str, str], ...] = (
    ("escape", "leave the form (keys act on the app again)"),
    ("tab", "next field or picker; enter or down opens a picker"),
    ("enter", "commit a typed value (leaving the field does too); toggle a checkbox"),
    ("ctrl+p", "command palette (every action, themes)"),
)


def bindings() -> list[Binding]:
    """The app's key bindings, from ACTIONS."""
    return [binding for action in ACTIONS for binding in action.bindings()]


def help_keys() -> list[tuple[str, str]]:
    """(key, what it does) for the help screen."""
    return [(a.shown_key, a.help) for a in ACTIONS] + list(WIDGET_KEYS)
