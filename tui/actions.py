"""Every action of the app, declared once: key, footer label, help text, palette entry and
when it applies. The bindings, the footer, the help screen's key list and the command palette
are all built from `ACTIONS` (as davep/hike declares its commands).

`when` names an entry of `SessionView.available` (engine/session.py): the action is shown and
offered only while the session says it applies (pin only for a single run, leave the race only
during one...). Actions without `when` always apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    """One thing the user can do."""

    name: str  # the App method is action_<name>
    keys: str  # Textual key names, comma separated
    label: str  # footer label
    help: str  # the help screen's line, and the palette entry's description
    title: str | None  # the palette entry (None: not in the palette)
    key_display: str | None = None
    footer: bool = True
    priority: bool = False
    when: str | None = None  # an entry of SessionView.available, or None: always

    @property
    def shown_key(self) -> str:
        """The key as people read it ("+", "ctrl+s", "space")."""
        return self.key_display or self.keys.split(",")[0]

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.name,
            self.label,
            show=self.footer,
            key_display=self.key_display,
            priority=self.priority,
            id=self.name,
            tooltip=self.help,
        )


ACTIONS: tuple[Action, ...] = (
    # space is a priority key: run/pause works wherever the focus is, also in the form
    # (its fields hold numbers, never spaces).
    Action("toggle_run", "space", "Run/pause", "start, pause or continue training",
           "Run / pause", priority=True),
    Action("step", "n", "Step", "one update, then pause", "Step once"),
    Action("reset", "r", "Reset", "start over from step 0 with the settings shown", "Reset run"),
    Action("faster", "plus,equals_sign", "Faster",
           "raise the speed limit (steps per second, up to max)", "Faster", key_display="+"),
    Action("slower", "minus", "Slower", "lower the speed limit (down to 1 step per second)",
           "Slower", key_display="-"),
    Action("toggle_log", "l", "Log", "log scale on the y axis of the chart in view",
           "Toggle log scale"),
    Action("help", "question_mark", "Help", "this help: the optimizer's update rule", "Help",
           key_display="?"),
    Action("quit", "q", "Quit", "quit optplay (asks first when the experiment has unsaved "
           "changes)", None),
    Action("save", "ctrl+s", "Save", "save the settings as an experiment file (TOML)",
           "Save experiment", footer=False),
    # After Quit, so an 80-column footer keeps the basic keys in view.
    Action("race", "c", "Race", "race 2-6 optimizers on the same task, seed and data",
           "Race optimizers"),
    Action("pin", "p", "Pin", "pin this run as a named overlay; the live run starts over",
           "Pin run", when="pin"),
    Action("leave_race", "x", "One run", "leave the race: back to one run", "Leave race",
           when="leave_race"),
    Action("table", "t", "Table",
           "results table: final/best loss, steps to target, time per step", "Results table",
           when="table"),
    Action("export", "e", "Export", "write the history of every run shown (CSV and JSON)",
           "Export history"),
    Action("presets", "o", "Presets", "open a shipped preset", "Presets"),
    Action("sweep", "s", "Sweep", "final loss against lr (or any knob) per optimizer, a fresh "
           "run per point; open any point as the run", "Sweep a knob", footer=False),
)  # fmt: skip

BY_NAME = {action.name: action for action in ACTIONS}

#: Keys handled by widgets, listed in the help screen after the actions.
WIDGET_KEYS: tuple[tuple[str, str], ...] = (
    ("escape", "leave the form (keys act on the app again)"),
    ("tab", "next field or picker; enter/↓ opens a picker"),
    ("enter", "commit a typed value (leaving the field does too)"),
    ("ctrl+p", "command palette (every action, themes)"),
)


def bindings() -> list[Binding]:
    """The app's key bindings (and footer entries), from ACTIONS."""
    return [action.binding() for action in ACTIONS]


def help_keys() -> list[tuple[str, str]]:
    """(key, what it does) for the help screen."""
    return [(a.shown_key, a.help) for a in ACTIONS] + list(WIDGET_KEYS)
