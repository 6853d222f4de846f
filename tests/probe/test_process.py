import os

from perflab.probe.process import current_pid


def test_current_pid_is_this_process():
    assert current_pid() == os.getpid()


def test_current_pid_follows_a_fork():
    parent = current_pid()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports what it sees, then leaves without running pytest's exit
        os.write(write_end, f"{current_pid()} {os.getpid()}".encode())
        os._exit(0)
    os.close(write_end)
    seen, actual = map(int, os.read(read_end, 64).split())
    os.close(read_end)
    os.waitpid(child, 0)
    assert seen == actual == child != parent
    assert current_pid() == parent
