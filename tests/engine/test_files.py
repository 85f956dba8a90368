"""Saving and reading files under hostile conditions (issue 18, items 5, 9, 10, 11).

Saves go through `engine.config.save` and `engine.history.export_history` (what the CLI and
the app call); both use `engine.files.write_text_atomic`. Reads go through `config.load`.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import threading
from pathlib import Path

import pytest

from engine import config, files
from engine.config import ConfigError
from engine.history import export_history
from engine.run import Run, RunConfig

CFG = RunConfig(task="quadratic", optimizer="sgd")
OTHER = RunConfig(task="rosenbrock", optimizer="adam")


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- symlinks, modes, owners, hard links (item 10) --------------------------------------------


def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "exp.toml"
    real.parent.mkdir()
    config.save(real, CFG)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    config.save(link, OTHER)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert config.load(real).config == OTHER  # the real file has the new content
    assert names(tmp_path) == ["link.toml", "real"] and names(real.parent) == ["exp.toml"]


def test_a_link_to_dev_full_reports_disk_full_and_stays_a_link(tmp_path):
    link = tmp_path / "h.csv"
    link.symlink_to("/dev/full")
    run = Run(CFG)
    run.step(3)
    with pytest.raises(OSError) as info:
        export_history(run, link)
    assert info.value.errno == errno.ENOSPC
    assert link.is_symlink() and os.readlink(link) == "/dev/full"
    assert names(tmp_path) == ["h.csv"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "exp.toml"
    config.save(path, CFG)
    os.chmod(path, 0o604)
    config.save(path, OTHER)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_saving_over_another_users_file_keeps_its_owner(tmp_path):
    path = tmp_path / "exp.toml"
    config.save(path, CFG)
    os.chown(path, 12345, 23456)
    config.save(path, OTHER)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (12345, 23456) and config.load(path).config == OTHER


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        config.save(tmp_path / "exp.toml", CFG)
        run = Run(CFG)
        run.step(2)
        export_history(run, tmp_path / "h.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "exp.toml").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "h.json").st_mode) == mode


def test_hard_links_are_replaced_as_documented(tmp_path):
    """Atomic saves give the saved name a new file: another hard link keeps the old content
    (writing in place would keep the link but could leave half a file; see engine/files.py)."""
    path = tmp_path / "exp.toml"
    config.save(path, CFG)
    twin = tmp_path / "twin.toml"
    os.link(path, twin)
    config.save(path, OTHER)
    assert config.load(path).config == OTHER and config.load(twin).config == CFG
    assert "hard link" in files.__doc__


# -- names and temp files (items 9 and 11) ----------------------------------------------------


@pytest.mark.parametrize("length", [246, 250, 255])
def test_names_up_to_255_bytes_can_be_saved(tmp_path, length):
    run = Run(CFG)
    run.step(3)
    csv_path = tmp_path / ("h" * (length - 4) + ".csv")
    export_history(run, csv_path)
    toml_path = tmp_path / ("e" * (length - 5) + ".toml")
    config.save(toml_path, CFG)
    assert names(tmp_path) == sorted([csv_path.name, toml_path.name])


def test_temp_files_are_short_names_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    replace = os.replace

    def spy(src, dst):
        seen.append((os.fspath(src), os.fspath(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    config.save(tmp_path / ("e" * 250 + ".toml"), CFG)
    ((src, dst),) = seen
    assert os.path.dirname(src) == os.path.dirname(dst) == str(tmp_path)
    assert len(os.path.basename(src)) <= 32


def test_a_save_killed_with_sigkill_leaves_no_temp_file_behind(tmp_path):
    """kill -9 between writing the temp file and renaming it: the next save in that folder
    removes the dead process's temp file (and the target is the old file, complete)."""
    path = tmp_path / "exp.toml"
    config.save(path, CFG)
    pid = os.fork()
    if pid == 0:  # the child: dies inside the rename, as kill -9 would make it
        try:
            os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
            config.save(path, OTHER)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert config.load(path).config == CFG
    config.save(tmp_path / "another.toml", CFG)  # any later save in the folder sweeps
    assert names(tmp_path) == ["another.toml", "exp.toml"]


def test_errors_while_writing_remove_the_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "exp.toml"
    config.save(path, CFG)

    def boom(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space left"):
        config.save(path, OTHER)
    assert names(tmp_path) == ["exp.toml"] and config.load(path).config == CFG


def test_a_temp_file_of_a_live_process_is_left_alone(tmp_path):
    alive = tmp_path / f".optplay-{os.getppid()}-0badc0de.tmp"
    alive.write_text("someone is writing")
    dead = tmp_path / ".optplay-2147483647-0badc0de.tmp"
    dead.write_text("killed")
    mine = tmp_path / "notes.tmp"
    mine.write_text("not ours")
    config.save(tmp_path / "exp.toml", CFG)
    assert names(tmp_path) == sorted([alive.name, "exp.toml", "notes.tmp"])


def test_check_writable_refuses_what_a_save_would_refuse(tmp_path):
    files.check_writable(tmp_path / "ok.csv")
    files.check_writable(tmp_path / ("a" * 255))
    with pytest.raises(OSError) as info:
        files.check_writable(tmp_path / ("a" * 256))
    assert info.value.errno == errno.ENAMETOOLONG
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(IsADirectoryError):
        files.check_writable(tmp_path / "dir.csv")
    with pytest.raises(FileNotFoundError):
        files.check_writable(tmp_path / "missing" / "h.csv")
    files.check_writable("/dev/full")  # a device: written in place, its errors come later
    assert names(tmp_path) == ["dir.csv"]  # the probe left nothing


# -- reading special and huge files (item 5) --------------------------------------------------


def load_in_thread(path: Path) -> Exception | None:
    """config.load(path) on a daemon thread; fails the test if it blocks for 5 s."""
    out: list = []

    def work() -> None:
        try:
            config.load(path)
        except Exception as err:
            out.append(err)
        else:
            out.append(None)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(5)
    assert out, f"config.load({path}) blocked"
    return out[0]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "exp.toml"
    os.mkfifo(fifo)
    err = load_in_thread(fifo)
    assert isinstance(err, ConfigError) and "not a regular file (a FIFO)" in str(err)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_without_reading_them(device):
    # In a child with 4 GiB of address space, so that reading /dev/zero without a bound
    # (the bug) fails the test instead of eating the machine's memory.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
            try:
                config.load(device)
                message = "read without error"
            except ConfigError as err:
                message = str(err)
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        message = fh.read().decode()
    os.waitpid(pid, 0)
    assert message == f"{device}: not a regular file (a character device)"


def test_a_directory_is_refused(tmp_path):
    err = load_in_thread(tmp_path)
    assert isinstance(err, ConfigError) and "not a regular file (a directory)" in str(err)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "exp.toml"
    with path.open("wb") as fh:
        fh.truncate(files.MAX_READ_BYTES + 1)  # sparse: nothing is written
    err = load_in_thread(path)
    assert isinstance(err, ConfigError)
    assert str(err) == f"{path}: the file is larger than 1 MiB (1048577 bytes)"


# -- links in shared folders (fs.protected_symlinks) ---------------------------------------------

OTHER_UID = 12345


def _shared_folder(tmp_path: Path, owner: int | None = None) -> Path:
    """A sticky world-writable folder, like /tmp."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    if owner is not None:
        os.chown(shared, owner, owner)
    return shared


def _planted_link(folder: Path, target: Path, uid: int) -> Path:
    link = folder / "notes.toml"
    link.symlink_to(target)
    os.lchown(link, uid, uid)
    return link


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another uid needs root")


@needs_root
def test_another_users_link_in_a_shared_folder_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = _planted_link(_shared_folder(tmp_path), victim, OTHER_UID)
    for save in (files.write_text_atomic, lambda p, _: files.check_writable(p)):
        with pytest.raises(PermissionError) as caught:
            save(link, "overwritten")
        assert f"not following the link {str(link)!r}" in caught.value.strerror
        assert f"another user (uid {OTHER_UID})" in caught.value.strerror
    assert victim.read_text() == "precious" and link.is_symlink()
    assert sorted(p.name for p in link.parent.iterdir()) == ["notes.toml"]


@needs_root
def test_a_link_on_the_way_to_the_file_is_checked_too(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    shared = _shared_folder(tmp_path)
    (shared / "dir").symlink_to(real)
    os.lchown(shared / "dir", OTHER_UID, OTHER_UID)
    with pytest.raises(PermissionError, match="not following the link"):
        files.write_text_atomic(shared / "dir" / "new.toml", "x")
    assert list(real.iterdir()) == []


@needs_root
def test_links_the_kernel_would_follow_are_followed(tmp_path):
    victim = tmp_path / "mine.txt"
    # our own link in a shared folder
    link = _planted_link(_shared_folder(tmp_path), victim, os.geteuid())
    files.write_text_atomic(link, "one")
    assert victim.read_text() == "one" and link.is_symlink()
    # the folder's owner's link in the folder's owner's shared folder
    owned = tmp_path / "owned"
    owned.mkdir()
    shared = _shared_folder(owned, owner=OTHER_UID)
    link = _planted_link(shared, victim, OTHER_UID)
    files.write_text_atomic(link, "two")
    assert victim.read_text() == "two"
    # another user's link in a folder that is not world-writable and sticky
    plain = tmp_path / "plain"
    plain.mkdir()
    link = _planted_link(plain, victim, OTHER_UID)
    files.write_text_atomic(link, "three")
    assert victim.read_text() == "three" and link.is_symlink()


@needs_root
def test_run_save_refuses_a_planted_link_in_one_line(tmp_path, monkeypatch, capsys):
    from tui.cli import main

    victim = tmp_path / "victim.toml"
    victim.write_text("precious")
    link = _planted_link(_shared_folder(tmp_path), victim, OTHER_UID)
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--task", "quadratic", "--optimizer", "sgd", "--steps", "5"]
    status = main([*argv, "--save", str(link)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"--save {link}: not following the link {str(link)!r}" in err
    assert len(err.strip().splitlines()) == 1
    assert victim.read_text() == "precious"
