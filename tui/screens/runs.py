"""The Runs screen: the runs kept in the run store (engine/store.py), across sessions.

Newest first, one line each: id, when it started, task, optimizer, seed, steps, outcome and
final eval loss. Enter opens the chosen run as the run (retrained to the step it reached,
which gives the same history: the same configuration gives the same numbers; the app says
so when a newer optplay gives other ones), `p` pins it beside the current run (same task
only), escape closes. The list is read off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.dialogs import Dialog

#: Runs the screen lists (the newest); `optplay runs list` lists them all.
SHOWN = 1000


@dataclass(frozen=True)
class RunsPick:
    """What the user chose: a stored run's id and whether to open or pin it."""

    run_id: int
    pin: bool = False


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


class RunsScreen(Dialog[RunsPick | None]):
    """Browse the stored runs; returns a RunsPick (or None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("p", "pin", "Pin beside"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="runs-body") as body:
            body.border_title = "stored runs"
            body.border_subtitle = "enter opens as the run · p pins beside it · esc closes"
            yield Static("reading the run store…", id="runs-note", markup=False)
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "started", "task", "optimizer", "seed", "steps", "outcome",
                          "eval loss")  # fmt: skip
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        from engine.store import Store, StoreError

        try:
            with Store() as store:
                runs = store.list(limit=SHOWN + 1)
                notice = store.notice
        except (StoreError, OSError) as err:
            runs, notice = [], f"the run store cannot be read: {err}"
        except Exception as err:  # sqlite3.Error: a store damaged since it was opened
            runs, notice = [], f"the run store cannot be read: {err}"
        self.app.call_from_thread(self._show, runs, notice)

    def _show(self, runs: list[dict], notice: str | None) -> None:
        import time

        table = self.query_one(DataTable)
        for r in runs[:SHOWN]:
            outcome = r["outcome"]
            if r["diverged_at"] is not None:
                outcome += f" at {r['diverged_at']}"
            table.add_row(
                str(r["id"]),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])),
                r["task"],
                r["optimizer"] + ("" if r["schedule"] == "constant" else f"+{r['schedule']}"),
                str(r["seed"]),
                f"{r['steps']:,}",
                outcome,
                _number(r["final_eval_loss"]),
                key=str(r["id"]),
            )
        if notice:
            text = notice
        elif not runs:
            text = "no runs kept yet: every run that finishes is kept here"
        else:
            more = f" (the newest {SHOWN}; `optplay runs list` lists all)" * (len(runs) > SHOWN)
            text = f"{min(len(runs), SHOWN)} runs{more}"
        self.query_one("#runs-note", Static).update(text)
        table.focus()

    def _chosen_id(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(str(key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(RunsPick(int(str(event.row_key.value))))

    def action_pin(self) -> None:
        run_id = self._chosen_id()
        if run_id is not None:
            self.dismiss(RunsPick(run_id, pin=True))

    def action_cancel(self) -> None:
        self.dismiss(None)
