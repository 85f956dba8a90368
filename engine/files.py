"""Reading user files within bounds, and saving files atomically.

Reading (`read_limited`): experiment and bench files come from users and may be anything: a
FIFO (reading blocks forever), /dev/zero or /dev/urandom (endless), a multi-gigabyte log. We
look before we open (`os.stat`), refuse anything but a regular file, open without blocking,
check again on the open file, and read at most MAX_READ_BYTES (1 MiB; experiment files are a
few KB). `ReadError` says what was refused, without the path (callers name the file).

Saving (`write_text_atomic`, `write_bytes_atomic`), used by every save of the product (the
history export, experiment files, bench reports, the app's saves):

- Atomic: the data goes to a temporary file in the target's folder, is flushed and fsynced,
  then renamed over the target (`os.replace`), and the folder is fsynced. A crash or a kill at
  any moment leaves the old file or the new one, complete, never a mix or half a file.
- Short temporary names (`.optplay-<pid>-<8 hex>.tmp`, under 32 bytes), so a legal target
  name of up to 255 bytes can be saved.
- Symlinks are followed: saving to a link replaces the file it points to and keeps the link,
  under the rule Linux applies to links (fs.protected_symlinks): a link in a sticky
  world-writable folder (/tmp) is followed only when it belongs to the user saving or to the
  folder's owner. Another user's link planted in a shared folder is refused (PermissionError
  naming the link), so it cannot make a save overwrite the file it points to.
- Modes and owners: a new file gets 0o666 minus the umask, as any program creating a file; a
  replaced file keeps its permission bits, and its owner and group where the process may set
  them (root; otherwise the new file belongs to whoever saved it, as with any editor).
- A target that exists but is not a regular file (a device such as /dev/null or /dev/full, a
  FIFO) cannot be replaced: it is written in place, so a link to /dev/full reports
  "No space left on device" (OSError ENOSPC) instead of being replaced by a file.
- Hard links: the saved name gets a new file (a new inode); another hard link to the old file
  keeps the old content. Writing in place would keep the link but could leave half a file if
  the process were killed mid-write, and atomicity matters more here.
- Temporary files are removed on every exit path: an error removes it; SIGINT, SIGTERM and
  SIGHUP are held (blocked for the calling thread) from the temp file's creation to its
  rename, so they take effect right after the save, with nothing left behind. Only kill -9
  (or a crash) can leave one: every save first sweeps its folder for temporary files whose
  process no longer exists (`sweep_stale_temps`). (In a folder shared by several machines,
  a pid names a process of this machine only; such a sweep could remove a temporary file of
  a save running on another machine, which then fails with an error, never a lost file.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import stat
from collections.abc import Iterator

#: The most bytes `read_limited` reads from a file (experiment and bench files).
MAX_READ_BYTES = 1 << 20

_TEMP_NAME = re.compile(r"\.optplay-([0-9]{1,10})-[0-9a-f]{8}\.tmp")
_HELD_SIGNALS = {
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
}
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class ReadError(ValueError):
    """A file that `read_limited` refused or could not read; the message names the reason
    (not the path)."""


def _kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a file"


def _size_text(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"


def read_limited(path: str | os.PathLike[str], limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them. ReadError when the path
    is not a regular file (FIFO, device, directory), is larger than `limit`, or cannot be read.
    Never blocks on a FIFO and never reads a device."""
    try:
        before = os.stat(path)  # look before opening: opening a device can have effects
        if not stat.S_ISREG(before.st_mode):
            raise ReadError(f"not a regular file ({_kind(before.st_mode)})")
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _CLOEXEC)
    except OSError as err:
        raise ReadError(f"cannot read the file: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)  # what was opened (the path may have changed since the stat)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(f"not a regular file ({_kind(st.st_mode)})")
        too_big = ReadError(f"the file is larger than {_size_text(limit)} ({st.st_size} bytes)")
        if st.st_size > limit:
            raise too_big
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while we read
                raise ReadError(f"the file is larger than {_size_text(limit)}")
    except OSError as err:
        raise ReadError(f"cannot read the file: {err.strerror or err}") from None
    finally:
        os.close(fd)


# -- saving ---------------------------------------------------------------------------------


def _name_max(folder: str) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


#: The most links followed in resolving one path (the kernel's limit too).
_MAX_LINKS = 40


def _resolve(path: str) -> str:
    """`os.path.realpath(path)`, each link on the way checked as the kernel checks it when
    fs.protected_symlinks is on (`_check_link`). A missing part ends the resolution: the
    rest is taken as written (a file to create)."""
    pending = os.path.abspath(path).split(os.sep)[1:]
    pending.reverse()  # a stack: the next part last
    resolved = os.sep
    links = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            resolved = os.path.dirname(resolved)
            continue
        candidate = os.path.join(resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            return os.path.join(candidate, *reversed(pending))
        if not stat.S_ISLNK(st.st_mode):
            resolved = candidate
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        _check_link(candidate, st, resolved, path)
        content = os.readlink(candidate)
        if os.path.isabs(content):
            resolved = os.sep
        pending.extend(reversed(content.split(os.sep)))
    return resolved


def _check_link(link: str, st: os.stat_result, folder: str, path: str) -> None:
    """The kernel's fs.protected_symlinks rule: in a sticky world-writable folder, a link is
    followed only by its owner or when it belongs to the folder's owner."""
    folder_st = os.stat(folder)
    shared = folder_st.st_mode & stat.S_ISVTX and folder_st.st_mode & stat.S_IWOTH
    if not shared or st.st_uid in (os.geteuid(), folder_st.st_uid):
        return
    raise PermissionError(
        errno.EACCES,
        f"not following the link {link!r}: it belongs to another user (uid {st.st_uid}) in the "
        f"shared folder {folder!r}, where the system would not follow it either",
        path,
    )


def _target(path: str | os.PathLike[str]) -> tuple[str, os.stat_result | None]:
    """The real file a save of `path` writes (symlinks followed) and its stat (None when it
    does not exist yet). OSError for a name too long, a directory, a missing folder."""
    target = _resolve(os.fspath(path))
    folder, name = os.path.split(target)
    if len(os.fsencode(name)) > _name_max(folder or "."):
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), os.fspath(path))
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
        if not os.path.isdir(folder or "."):
            raise FileNotFoundError(
                errno.ENOENT, f"the folder {folder!r} does not exist", os.fspath(path)
            ) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    return target, st


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def sweep_stale_temps(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files of saves into `folder` whose process no longer exists
    (left by kill -9 or a crash); returns their paths. Other files are never touched."""
    removed: list[str] = []
    if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
        return removed
    me = os.getpid()
    try:
        entries = os.scandir(folder)
    except OSError:
        return removed
    with entries:
        for entry in entries:
            m = _TEMP_NAME.fullmatch(entry.name)
            if m is None:
                continue
            pid = int(m.group(1))
            if pid == me or _alive(pid):
                continue
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(entry.path)
    return removed


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Block SIGINT, SIGTERM and SIGHUP for this thread; on exit, pending ones are delivered."""
    if not hasattr(signal, "pthread_sigmask") or not _HELD_SIGNALS:
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _create_temp(folder: str, mode: int) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = os.path.join(folder, f".optplay-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            return os.open(path, flags, mode), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_in_place(target: str, data: bytes) -> None:
    """Write to a device or FIFO (it cannot be replaced). A FIFO nobody reads is an error
    (ENXIO) rather than a wait."""
    fd = os.open(target, os.O_WRONLY | _NONBLOCK | _NOCTTY | _CLOEXEC)
    try:
        os.set_blocking(fd, True)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable; not every system lets a folder be fsynced."""
    try:
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Save `data` to `path` atomically (see the module docstring for what is kept: links,
    modes, owners, and what happens to devices, hard links and temporary files)."""
    target, st = _target(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(target, data)
        return
    folder = os.path.dirname(target) or "."
    sweep_stale_temps(folder)
    with _signals_held():
        # 0o666 lets the umask decide for a new file; a replaced file's mode is set below.
        fd, tmp = _create_temp(folder, 0o600 if st is not None else 0o666)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
                if st is not None:
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, st.st_uid, st.st_gid)  # before chmod: chown clears suid
                    os.fchmod(fd, stat.S_IMODE(st.st_mode))
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    _fsync_folder(folder)


def write_text_atomic(path: str | os.PathLike[str], data: str) -> None:
    """Save `data` as UTF-8 to `path` atomically (see `write_bytes_atomic`). The text is
    encoded before any file is touched, so text that cannot be written changes nothing."""
    write_bytes_atomic(path, data.encode("utf-8"))


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise the OSError a save of `path` would meet, before anything is computed: a name too
    long, a missing folder, a directory in the way, a folder where files cannot be created
    (checked by creating and removing a temporary file there). Devices and FIFOs are written
    in place, so their errors (a full disk) come with the save itself. Sweeps the folder's
    stale temporary files, as a save does."""
    target, st = _target(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        return
    folder = os.path.dirname(target) or "."
    sweep_stale_temps(folder)  # what a killed earlier save left there
    with _signals_held():
        fd, tmp = _create_temp(folder, 0o600)
        os.close(fd)
        os.unlink(tmp)
