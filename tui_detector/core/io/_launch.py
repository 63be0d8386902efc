"""Where every child process starts: ``python -P -m tui_detector.core.io._launch MODULE MEMORY CPU PARENT``.

It arranges to die with its parent (``PARENT``, the starting process's id; Linux), limits its own address space (``MEMORY`` bytes) and CPU time (``CPU`` seconds; ``0`` leaves
either as it is) and never writes a core file, then imports ``MODULE`` and runs its ``main()``:
so the limits hold before the parser, or anything a hostile file can reach, is loaded. Setting
them here rather than in a ``preexec_fn`` keeps :mod:`.sandbox` safe to call from threads.
Standard library only, so a child starts in well under 0.1 s.
"""

from __future__ import annotations

import importlib
import os
import sys

#: The modules a child may run (nothing else in the package has a child's ``main()``).
CHILDREN = ("tui_detector.core.io._worker", "tui_detector.core.io._tablechild", "tui_detector.core.io._checkchild")


def _limit(memory: int, cpu: int) -> None:
    try:
        import resource  # POSIX only; elsewhere the parent's timeout is the only limit
    except ImportError:
        return
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu)):
        if not value:
            continue
        try:
            soft, hard = resource.getrlimit(which)
            # Only ever tighter: a limit the user set (ulimit) stays, soft one included.
            for given in (soft, hard):
                if given != resource.RLIM_INFINITY:
                    value = min(value, given)
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            pass
    try:  # never leave a core file of a hostile input behind
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


#: PR_SET_PDEATHSIG, from <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started us dies, however it dies (SIGKILL included:
    its atexit handler, which kills every child, never runs then). Linux only; elsewhere a
    killed parent's child ends when it next writes to the closed pipe."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0) != 0:  # 9: SIGKILL
            return
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:
        os._exit(3)  # the parent died before the line above took effect: nobody wants us


def main(argv: list[str]) -> int:
    module, memory, cpu, *rest = argv
    if module not in CHILDREN:
        sys.stderr.write(f"not a child module: {module}\n")
        return 2
    die_with_parent(int(rest[0]) if rest else 0)
    _limit(int(memory), int(cpu))
    return int(importlib.import_module(module).main())


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: the answer is written, nothing left to clean up
