#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts, as a person
at the keyboard would: tests of what `airlock` does on a real terminal
(typed `yes`, a passphrase asked again, Ctrl-C at a prompt).

usage: pty-drive.py SCRIPT.json -- COMMAND [ARGS...]

SCRIPT.json is a list of [pattern, reply] pairs: wait until `pattern` (a
plain substring) appears in the output after the previous match, then type
`reply` (a "\\u0003" reply is Ctrl-C). The whole output is copied to stdout;
the exit status is the command's (128+N for a signal). Each wait times out
after 300 s (exit 124)."""

import json
import os
import pty
import select
import sys
import time


def main() -> int:
    sep = sys.argv.index("--")
    with open(sys.argv[1], encoding="utf-8") as f:
        script = json.load(f)
    cmd = sys.argv[sep + 1 :]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    cursor = 0
    step = 0
    deadline = time.monotonic() + 300
    while True:
        if step < len(script):
            pattern = script[step][0].encode()
            at = seen.find(pattern, cursor)
            if at >= 0:
                cursor = at + len(pattern)
                time.sleep(0.2)  # let the prompt switch the terminal mode
                os.write(fd, script[step][1].encode())
                step += 1
                deadline = time.monotonic() + 300
                continue
            if time.monotonic() > deadline:
                sys.stdout.buffer.write(seen)
                sys.stdout.write(f"\npty-drive: timed out waiting for {script[step][0]!r}\n")
                os.kill(pid, 9)
                return 124
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(seen)
    if step < len(script):
        sys.stdout.write(f"\npty-drive: the command ended before {script[step][0]!r}\n")
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
