"""Reading one field file in a child process with a memory limit and a time limit.

A hostile file must cost that file only. The Rust readers (fastexcel, python-calamine) abort
the whole process when an allocation fails, with no Python exception to catch: in the
Streamlit server that would end every visitor's session. So each file is read (read, find
the tables, clean, validate: `impact.intake.parsing.read_file`) in a child, and only its compact
clean result comes back. A child that dies, runs out of memory or time becomes
`UnreadableFile` for that file; the next file gets a fresh child.

The children are forked from a forkserver that imported the loader once, so a read starts
in milliseconds instead of the second a new interpreter needs. Not plain fork: the server
(and pyarrow under pandas) has threads, and forking a threaded process can leave the child
stuck on a lock another thread held.
"""
from __future__ import annotations

import gc
import io
import multiprocessing
import os
import resource
import signal
import traceback
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import ForkServerProcess

from impact import config
from impact.memory import release_freed_memory

from impact.intake import parsing
from impact.intake.load_report import FileResult
from impact.intake.reading import UnreadableFile

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["impact.intake.reader_warmup"])


class _Popen(popen_forkserver.Popen):
    """The forkserver's launch (Python 3.11's `_launch`), except that the child is not told
    to run the parent's main script first: under Streamlit that is the page being drawn
    (Streamlit makes it `__main__`), which would run again in every child."""

    def _launch(self, process_obj):
        prep_data = {key: value for key, value in spawn.get_preparation_data(process_obj._name).items()
                     if not key.startswith("init_main_from")}
        buf = io.BytesIO()
        popen_forkserver.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            popen_forkserver.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        self.finalizer = util.Finalize(self, util.close_fds, (os.dup(w), self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _ReadProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


def start() -> None:
    """Start the forkserver now (the server's warm-up) rather than on the first upload; a
    no-op once it runs. Python 3.11's forkserver ignores the parent's sys.path, so it finds
    this package through PYTHONPATH, or it would import nothing and every child start cold."""
    search = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(config.PROJECT_DIR) not in search:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(config.PROJECT_DIR), *search])
    forkserver.ensure_running()


def read_file(file_name: str, content: bytes, organization: str | None = None,
              mappings: dict[str, dict[str, str]] | None = None) -> FileResult:
    """`impact.intake.parsing.read_file` in a child process; raises UnreadableFile, with one line
    for the field team, when the child cannot finish. The file's bytes go down a pipe of their
    own once the child runs, not into the launch's pickle: that would copy them once more in
    the server, and glibc keeps such a freed copy of a big file in the heap."""
    start()
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    content_reader, content_writer = _CONTEXT.Pipe(duplex=False)
    child = _ReadProcess(target=_read_in_child, daemon=True,
                         args=(sender, content_reader, dict(os.environ), file_name, organization, mappings))
    child.start()
    sender.close()
    content_reader.close()
    try:
        with content_writer:
            try:
                content_writer.send_bytes(content)
            except OSError:   # the child died before it took the file: its exit code says why, below
                pass
        if not receiver.poll(config.read_timeout_s()):
            raise UnreadableFile(f"{file_name}: reading took longer than {config.read_timeout_s():g} s; "
                                 "split the file into smaller ones")
        outcome, value = receiver.recv()
    except EOFError:   # the child died before it could answer
        child.join()
        how = f"signal {signal.Signals(-child.exitcode).name}" if child.exitcode and child.exitcode < 0 \
            else f"exit code {child.exitcode}"
        raise UnreadableFile(_too_big(file_name, how)) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome == "raised":
        raise value
    value.content = content
    return value


def _too_big(file_name: str, how: str) -> str:
    return (f"{file_name}: the reader stopped ({how}) within the {config.read_memory_bytes() / 2**20:,.0f} MB "
            "a file may use; the file is far too big or has cells far from its data")


def _read_in_child(sender, content_reader, environ: dict[str, str], file_name: str, organization: str | None,
                   mappings: dict | None) -> None:
    """The child's whole life: take the parent's settings, limit its memory, read, send back
    the result without the bytes the parent already has, or the exception (UnreadableFile is
    the expected one)."""
    # A reader that aborts prints its own last words; the parent says it in one line.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    os.environ.clear()
    os.environ.update(environ)   # the forkserver's environment is the one of its start
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = config.read_memory_bytes() if hard == resource.RLIM_INFINITY else min(config.read_memory_bytes(), hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        # A child lives for one file, under its memory limit, and frees what it made when it
        # exits: the cycle collector's passes over a million new cells are a quarter of the read.
        gc.disable()
        content = content_reader.recv_bytes()
        content_reader.close()
        result = parsing.read_file(file_name, content, organization, mappings)
        result.content = b""
        message = reduction.ForkingPickler.dumps(("read", result))   # what `send` would write
        del result
        # The read's cells are freed: handed back before the parent takes the result, or the
        # child's peak and the parent's unpickling add up.
        release_freed_memory()
        sender.send_bytes(message)
    except UnreadableFile as exc:
        sender.send(("raised", exc))
    except MemoryError:
        sender.send(("raised", UnreadableFile(_too_big(file_name, "out of memory"))))
    except Exception as exc:   # a bug, not a bad file: the parent raises it with the child's traceback
        exc.add_note("".join(traceback.format_exception(exc)))
        try:
            sender.send(("raised", exc))
        except Exception:   # an exception that cannot be pickled
            sender.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}\n{exc.__notes__[0]}")))
