"""The process id the fork-safe stores compare with: right in a child after a fork too."""

from __future__ import annotations

import os

from adapters.process import current_pid


def test_the_kept_process_id_is_the_childs_after_a_fork():
    assert current_pid() == os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report whether it sees its own id, then leave at once
        os.write(write, b"1" if current_pid() == os.getpid() != os.getppid() else b"0")
        os._exit(0)
    os.close(write)
    seen = os.read(read, 1)
    os.close(read)
    os.waitpid(child, 0)
    assert seen == b"1"
    assert current_pid() == os.getpid()
