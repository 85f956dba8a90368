"""Every run kept: a local SQLite database of the runs the app and the CLI trained.

Where: `runs.sqlite` in the platform's data folder (`platformdirs.user_data_dir`, e.g.
~/.local/share/optplay on Linux); `OPTPLAY_DATA_DIR` redirects it (the tests set it to their
own folder). Recording is off with `optplay run --no-record` or `record_runs = false` in the
app's settings file.

What a row holds: the configuration (TOML, `engine.config.dumps`), seed, code version, start
and end time (Unix seconds), the outcome (steps done, planned steps, final and best eval loss,
final batch loss, the step it diverged at, and a word: finished / diverged / stopped) and the
history at the resolution the app keeps (at most 4096 points per series: each point the exact
metrics of the last step of its bucket, as `engine.history.run_record` exports them), as one
compressed blob of raw float64 arrays.

Safety, with several writers at once (the app, a second app, `optplay run` in a shell):
- WAL mode, a busy timeout and short write transactions (`BEGIN IMMEDIATE`, one INSERT,
  `COMMIT`): writers queue instead of failing, readers never block them, and a process killed
  mid-write (kill -9) leaves every committed run readable; the half-written one is rolled back
  when the database is next opened.
- The schema has a version (`PRAGMA user_version`): an older database is migrated in one
  transaction; a newer one is refused with a message (`StoreError`), never rewritten.
- A file that is not a readable database is set aside (renamed `runs.corrupt-<time>.sqlite`)
  and a fresh one is started; `Store.notice` says what happened, so the app can tell the user
  and still start.

This module imports no UI library; writing the blob and the row costs about a millisecond
(`tests/perf/bench_run.py` reports it against training speed).
"""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # NumPy loads when a run is written or read: `optplay runs list` starts fast
    import numpy as np

#: The database's schema version (PRAGMA user_version). Bump it with a migration below.
SCHEMA_VERSION = 1
FILE_NAME = "runs.sqlite"
#: Points per series kept for each run: the app's history capacity.
APP_RESOLUTION = 4096
BUSY_TIMEOUT_MS = 30_000  # writers wait their turn this long before giving up

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    source TEXT NOT NULL,
    task TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    schedule TEXT NOT NULL,
    seed INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    planned_steps INTEGER,
    started REAL NOT NULL,
    ended REAL NOT NULL,
    code_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    final_loss REAL,
    final_eval_loss REAL,
    best_eval_loss REAL,
    diverged_at INTEGER,
    config TEXT NOT NULL
);
-- The histories apart: a listing reads small rows only (10,000 runs list in milliseconds).
CREATE TABLE IF NOT EXISTS histories (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_task ON runs (task, started);
CREATE INDEX IF NOT EXISTS runs_optimizer ON runs (optimizer, started);
"""
#: Migrations from version k to k + 1 (SQL scripts), applied in one transaction.
_MIGRATIONS: dict[int, str] = {0: _SCHEMA}

#: Columns of a listing (everything but the configuration and the history).
SUMMARY_COLUMNS = (
    "id",
    "name",
    "source",
    "task",
    "optimizer",
    "schedule",
    "seed",
    "steps",
    "planned_steps",
    "started",
    "ended",
    "code_version",
    "outcome",
    "final_loss",
    "final_eval_loss",
    "best_eval_loss",
    "diverged_at",
)


class StoreError(Exception):
    """The run store cannot be used (a newer schema, an unwritable folder): one line."""


def data_dir() -> Path:
    """The folder of the run store: $OPTPLAY_DATA_DIR, else the platform's data folder."""
    folder = os.environ.get("OPTPLAY_DATA_DIR")
    if not folder:
        from platformdirs import user_data_dir

        folder = user_data_dir("optplay", appauthor=False)
    return Path(folder)


def default_path() -> Path:
    return data_dir() / FILE_NAME


@functools.cache
def code_version() -> str:
    """The installed optplay's version (what a stored run was trained with)."""
    try:
        from importlib.metadata import version

        return version("optplay")
    except Exception:  # not installed (a bare checkout): still recordable
        return "unknown"


# -- what is stored of a run ------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """One run ready to be stored: plain data, copied out of the Run (so the Run may be reset
    or trained on while the row is written from another thread)."""

    task: str
    optimizer: str
    schedule: str
    seed: int
    steps: int
    planned_steps: int | None
    started: float
    ended: float
    outcome: str
    final_loss: float | None
    final_eval_loss: float | None
    best_eval_loss: float | None
    diverged_at: int | None
    config: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    source: str = "app"
    code_version: str = field(default_factory=code_version)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _app_resolution(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most APP_RESOLUTION points of a full-resolution series, bucketed as the app's
    history folds it (the last value of each bucket of a power-of-two width)."""
    if len(steps) <= APP_RESOLUTION:
        return steps, values
    from engine.history import _Buckets  # the app's folding, exactly

    buckets = _Buckets(APP_RESOLUTION)
    buckets.extend(steps, values)
    stored = buckets.stored()
    return stored.steps, stored.lasts


def _np() -> Any:
    import numpy

    return numpy


def snapshot(
    run: Any,
    *,
    started: float,
    ended: float | None = None,
    planned_steps: int | None = None,
    name: str | None = None,
    source: str = "app",
) -> RunRow:
    """What the store keeps of `run` (an engine.run.Run), copied now. Cheap (arrays of at
    most 4096 points), so the caller can take it on the UI thread and write it elsewhere."""
    from engine.compare import Lane, result_of
    from engine.config import dumps

    # What was trained, not how it was watched (small runs record their state unasked).
    cfg = run.config.replace(state_every=0, sharpness_every=0)
    h = run.history
    result = result_of(Lane(name or cfg.optimizer, run))
    arrays: dict[str, np.ndarray] = {}
    loss = h.buckets("loss")
    steps = loss.steps
    arrays["step"], arrays["loss"] = _app_resolution(steps, loss.lasts)
    for series in ("lr", "grad_norm", "update_norm", "update_grad_ratio"):
        arrays[series] = _app_resolution(steps, h.buckets(series).lasts)[1]
    ev = h.buckets("eval_loss")
    arrays["eval_step"], arrays["eval_loss"] = _app_resolution(ev.steps, ev.lasts)
    if h.count("eval_accuracy"):
        acc = h.buckets("eval_accuracy")
        arrays["accuracy_step"], arrays["accuracy"] = _app_resolution(acc.steps, acc.lasts)
    path = h.trajectory()
    if len(path.steps):
        arrays["path_step"], arrays["path_x"] = _app_resolution(path.steps, path.xs)
        arrays["path_y"] = _app_resolution(path.steps, path.ys)[1]
    arrays = {k: _np().array(v, copy=True) for k, v in arrays.items()}
    if run.diverged_at is not None:
        outcome = "diverged"
    elif planned_steps is not None and run.steps_done < planned_steps:
        outcome = "stopped"
    else:
        outcome = "finished"
    return RunRow(
        task=cfg.task,
        optimizer=cfg.optimizer,
        schedule=cfg.schedule,
        seed=int(cfg.seed),
        steps=int(run.steps_done),
        planned_steps=planned_steps,
        started=float(started),
        ended=float(time.time() if ended is None else ended),
        outcome=outcome,
        final_loss=_finite(result.final_loss),
        final_eval_loss=_finite(result.eval_loss),
        best_eval_loss=_finite(result.best_eval_loss),
        diverged_at=run.diverged_at,
        config=dumps(cfg),
        arrays=arrays,
        meta={
            "resolution": int(h.width("loss")),
            "dtype": cfg.dtype,
            "eval_every": int(cfg.eval_every),
            "divergence": getattr(run, "divergence", None),
        },
        name=name,
        source=source,
    )


def encode_history(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    """Arrays as one zlib blob: a JSON header (names, dtypes, lengths, meta), then the raw
    little-endian bytes of each array."""
    np = _np()
    names = list(arrays)
    parts = [np.ascontiguousarray(arrays[n]) for n in names]
    header = json.dumps(
        {
            "arrays": [[n, p.dtype.str, len(p)] for n, p in zip(names, parts, strict=True)],
            "meta": meta,
        }
    ).encode()
    body = b"".join(p.astype(p.dtype.newbyteorder("<"), copy=False).tobytes() for p in parts)
    return zlib.compress(len(header).to_bytes(4, "little") + header + body, 1)


def decode_history(blob: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    np = _np()
    raw = zlib.decompress(blob)
    size = int.from_bytes(raw[:4], "little")
    header = json.loads(raw[4 : 4 + size])
    offset = 4 + size
    arrays = {}
    for name, dtype, length in header["arrays"]:
        dt = np.dtype(dtype)
        arrays[name] = np.frombuffer(raw, dt, length, offset).copy()
        offset += dt.itemsize * length
    return arrays, header.get("meta", {})


@dataclass(frozen=True)
class StoredRun:
    """A run read back: its listing columns (`summary`), its configuration (TOML text) and
    its history arrays."""

    summary: dict[str, Any]
    config: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.summary["id"])

    def experiment(self) -> Any:
        """The Experiment (config and planned steps) the run was trained from."""
        from engine.config import Experiment, loads

        exp = loads(self.config, f"stored run {self.id}")
        steps = self.summary.get("planned_steps") or self.summary["steps"] or None
        return Experiment(exp.config, steps=steps, name=self.summary.get("name"))

    def record(self) -> dict[str, Any]:
        """The run as `engine.history.load_history_json` gives a run of a JSON export."""
        from engine.config import loads

        cfg = loads(self.config, f"stored run {self.id}").config
        a = self.arrays
        rec: dict[str, Any] = {
            "name": self.summary.get("name") or cfg.optimizer,
            "task": cfg.task,
            "optimizer": cfg.optimizer,
            "schedule": cfg.schedule,
            "seed": cfg.seed,
            "dtype": cfg.dtype,
            "eval_every": cfg.eval_every,
            "task_hypers": dict(cfg.task_hypers),
            "optimizer_hypers": dict(cfg.optimizer_hypers),
            "schedule_hypers": dict(cfg.schedule_hypers),
            "state": self.summary["outcome"],
            "diverged_at": self.summary["diverged_at"],
            "steps_done": self.summary["steps"],
            "resolution": self.meta.get("resolution", 1),
            "step": a["step"],
        }
        for series in ("loss", "lr", "grad_norm", "update_norm", "update_grad_ratio"):
            rec[series] = a[series]
        rec["eval"] = {"step": a["eval_step"], "loss": a["eval_loss"]}
        if "accuracy" in a:
            rec["eval"]["accuracy_step"] = a["accuracy_step"]
            rec["eval"]["accuracy"] = a["accuracy"]
        if "path_step" in a:
            rec["trajectory"] = {"step": a["path_step"], "x": a["path_x"], "y": a["path_y"]}
        return rec


def same_history(stored: StoredRun, run: Any) -> bool:
    """Whether `run` (e.g. the stored run retrained) has the history that was stored: every
    stored array equal, bit for bit (NaN equal to NaN)."""
    np = _np()
    now = snapshot(run, started=0.0).arrays
    if set(now) != set(stored.arrays):
        return False
    return all(np.array_equal(now[k], stored.arrays[k], equal_nan=True) for k in now)


# -- the database -----------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit: every transaction is explicit and short (BEGIN IMMEDIATE ... COMMIT).
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class Store:
    """The run store at `path` (default: `default_path()`). Opening creates or migrates it;
    a corrupt file is set aside (see the module docstring) and `notice` says so."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.notice: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"run store: cannot create {self.path.parent} ({err})") from None
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
                raise StoreError(f"run store {self.path}: busy ({err})") from None
            aside = self._set_aside()
            self.notice = (
                f"the run store {self.path} could not be read ({err}): set aside as "
                f"{aside.name}; a new one was started"
            )
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = _connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: committed runs survive a crash
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # readable?
            return
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"run store {self.path} has schema version {version}, newer than this "
                f"optplay's ({SCHEMA_VERSION}): upgrade optplay, or point OPTPLAY_DATA_DIR "
                "elsewhere"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process?
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _set_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.stem}.corrupt-{stamp}{self.path.suffix}")
        k = 1
        while aside.exists():
            k += 1
            aside = self.path.with_name(f"{self.path.stem}.corrupt-{stamp}-{k}{self.path.suffix}")
        os.replace(self.path, aside)
        for extra in ("-wal", "-shm"):  # the journal of the corrupt file goes with it
            side = self.path.with_name(self.path.name + extra)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + extra))
        return aside

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------

    def add(self, row: RunRow) -> int:
        """Store one run in one short transaction; returns its id."""
        blob = encode_history(row.arrays, row.meta)
        values = (
            row.name,
            row.source,
            row.task,
            row.optimizer,
            row.schedule,
            row.seed,
            row.steps,
            row.planned_steps,
            row.started,
            row.ended,
            row.code_version,
            row.outcome,
            row.final_loss,
            row.final_eval_loss,
            row.best_eval_loss,
            row.diverged_at,
            row.config,
        )
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                f"INSERT INTO runs ({', '.join(SUMMARY_COLUMNS[1:])}, config) "
                f"VALUES ({', '.join('?' * len(values))})",
                values,
            )
            conn.execute(
                "INSERT INTO histories (run_id, data) VALUES (?, ?)", (cur.lastrowid, blob)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid or 0)

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Delete runs by id; returns the ids that existed."""
        ids = [int(i) for i in ids]
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = "SELECT 1 FROM runs WHERE id = ?"
            found = [i for i in ids if conn.execute(exists, (i,)).fetchone()]
            conn.executemany("DELETE FROM histories WHERE run_id = ?", [(i,) for i in found])
            conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in found])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return found

    def gc(self, keep: int) -> int:
        """Keep the `keep` newest runs (by start time); returns how many were deleted."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            kept = "SELECT id FROM runs ORDER BY started DESC, id DESC LIMIT ?"
            keep = max(0, int(keep))
            conn.execute(f"DELETE FROM histories WHERE run_id NOT IN ({kept})", (keep,))
            cur = conn.execute(f"DELETE FROM runs WHERE id NOT IN ({kept})", (keep,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cur.rowcount

    # -- reading ------------------------------------------------------------------------

    def list(
        self,
        *,
        task: str | None = None,
        optimizer: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Summaries (SUMMARY_COLUMNS), newest first, filtered by task, optimizer and start
        time (Unix seconds)."""
        where, params = [], []
        for column, value in (("task", task), ("optimizer", optimizer)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("started >= ?")
            params.append(since)
        sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._conn.execute(sql, params).fetchall()
        return [dict(zip(SUMMARY_COLUMNS, r, strict=True)) for r in rows]

    def ids(self) -> list[int]:
        return [r[0] for r in self._conn.execute("SELECT id FROM runs ORDER BY id")]

    def get(self, run_id: int) -> StoredRun:
        """One run; KeyError when there is none with that id."""
        row = self._conn.execute(
            f"SELECT {', '.join(SUMMARY_COLUMNS)}, config, data FROM runs "
            "JOIN histories ON run_id = id WHERE id = ?",
            (int(run_id),),
        ).fetchone()
        if row is None:
            raise KeyError(run_id)
        summary = dict(zip(SUMMARY_COLUMNS, row[: len(SUMMARY_COLUMNS)], strict=True))
        arrays, meta = decode_history(row[-1])
        return StoredRun(summary, row[-2], arrays, meta)


def record_runs(rows: Sequence[RunRow], path: str | os.PathLike[str] | None = None) -> str | None:
    """Store `rows` (one connection, one transaction each); a one-line warning when the
    store cannot be written (None when all went well). Never raises: recording must not
    cost a run."""
    try:
        with Store(path) as store:
            for row in rows:
                store.add(row)
            return store.notice
    except (StoreError, sqlite3.Error, OSError) as err:
        return f"run not recorded: {err}"


def export_text(stored: StoredRun, fmt: str) -> str:
    """A stored run as a file's text: "toml" (its experiment, to train it again), "json"
    (an optplay-history file, as `optplay run --out h.json` writes) or "csv" (the same
    columns as `optplay run --out h.csv`, one row per stored point)."""
    if fmt == "toml":
        from engine.config import dumps

        return dumps(stored.experiment())
    np = _np()
    rec = stored.record()
    series = ("loss", "lr", "grad_norm", "update_norm", "update_grad_ratio")
    if fmt == "json":

        def plain(values: np.ndarray) -> list[Any]:
            return [v if isinstance(v, int) or math.isfinite(v) else None for v in values.tolist()]

        out = {k: v for k, v in rec.items() if not isinstance(v, np.ndarray | dict)}
        out.update({k: dict(v) for k, v in rec.items() if isinstance(v, dict) and "_" in k})
        out["step"] = rec["step"].tolist()
        for s in series:
            out[s] = plain(rec[s])
        out["eval"] = {k: plain(v) for k, v in rec["eval"].items()}
        if "trajectory" in rec:
            out["trajectory"] = {k: plain(v) for k, v in rec["trajectory"].items()}
        doc = {"format": "optplay-history", "version": 1, "runs": [out]}
        return json.dumps(doc, allow_nan=False, indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (expected csv, json or toml)")
    import csv
    import io

    ev = rec["eval"]
    evals = dict(zip(ev["step"].tolist(), ev["loss"].tolist(), strict=True))
    accs = dict(zip(ev.get("accuracy_step", np.empty(0)).tolist(),
                    ev.get("accuracy", np.empty(0)).tolist(), strict=True))  # fmt: skip
    columns = ["step", *series]
    if rec["eval_every"]:
        columns.append("eval_loss")
    if accs:
        columns.append("eval_accuracy")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    cols = [rec[s].tolist() for s in series]
    for i, step in enumerate(rec["step"].tolist()):
        row = [str(step), *(repr(float(c[i])) for c in cols)]
        if "eval_loss" in columns:
            row.append(repr(evals[step]) if step in evals else "")
        if "eval_accuracy" in columns:
            row.append(repr(accs[step]) if step in accs else "")
        writer.writerow(row)
    return buf.getvalue()
