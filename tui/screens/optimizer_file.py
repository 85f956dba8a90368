"""Your own optimizer from a Python file: the path, asked for (the picker's "optimizer from
file…" and the palette's "Optimizer from file").

`OptimizerFileScreen(folder, remember)` returns the file the user named (enter on a file's
path, or enter on one of the .py files listed) or None (escape). Enter on a folder lists its
.py files and calls `remember(folder)` (the app keeps it in the settings). The dialog says
that loading runs the file's code; it only returns a path, the app loads it
(engine/optimizer_file.py), and only a file named here, never one from an experiment file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.dialogs import Dialog

#: The most .py files listed (a folder of thousands would only slow the dialog).
MAX_LISTED = 200
WARNING = "Loading a file RUNS ITS CODE with your permissions: only files you wrote or trust."


def python_files(folder: Path) -> tuple[list[str], str | None]:
    """The .py files directly in `folder` (sorted names) and a problem (None: fine)."""
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".py" and p.is_file())
    except OSError as err:
        return [], f"cannot list {folder}: {err.strerror or err}"
    if not names:
        return [], f"no .py files in {folder}"
    return names[:MAX_LISTED], None


class OptimizerFileScreen(Dialog[str | None]):
    """Ask for an optimizer file: a path typed, or one of a folder's .py files."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, folder: str, remember: Callable[[str], None]) -> None:
        super().__init__()
        self.folder = folder
        self.remember = remember

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body") as body:
            body.border_title = "optimizer from file"
            body.border_subtitle = "enter loads a file or lists a folder · esc cancels"
            yield Label(WARNING, id="optfile-warning")
            yield Label("File (PATH.py) or folder:", id="prompt-label")
            shown = f"{self.folder.rstrip('/')}/" if self.folder else ""
            yield Input(shown, id="prompt-value", select_on_focus=False)
            yield Static("", id="prompt-error", markup=False)
            yield OptionList(id="optfile-list")

    def on_mount(self) -> None:
        self._list(self.folder)

    def _list(self, folder: str) -> None:
        names, problem = python_files(Path(folder or "."))
        options = self.query_one("#optfile-list", OptionList)
        options.clear_options()
        options.add_options(Option(name, id=str(Path(folder) / name)) for name in names)
        options.display = bool(names)
        self.query_one("#prompt-error", Static).update(problem or "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#prompt-error", Static)
        if not text:
            error.update("type a file's path or a folder first")
            return
        path = Path(text).expanduser()
        if path.is_dir():
            self.folder = text.rstrip("/") or "/"
            self.remember(self.folder)
            self._list(self.folder)
            return
        if not path.is_file():
            error.update(f"no such file or folder: {text}")
            return
        self.dismiss(text)

    @on(OptionList.OptionSelected, "#optfile-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
