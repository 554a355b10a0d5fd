"""This process's handle on the guard: the one ``Fence`` (``graders.integrity.dispatcher``)
with every group of ``graders.integrity.guard`` covered, and ``watching(groups)`` to forbid
some of them for a while.

Apart from guard, which says what is forbidden, and dispatcher, which refuses it: the
dispatcher reads guard's groups, so the handle that builds a fence from both sits above them.
"""
from __future__ import annotations

import contextlib

from graders.integrity.guard import GROUPS, Watch, family

_FENCE = None  # this process's dispatcher guard, until a worker takes it (see take())


def install():
    """Register the kernels for every built-in group (in the zygote, before any fork)."""
    global _FENCE
    if _FENCE is None:
        # Imported only where a fence is built: a NumPy assignment's processes never load it.
        from graders.integrity import dispatcher

        _FENCE = dispatcher.Fence()
        for group in GROUPS:
            _FENCE.cover(group, family(group))
    return _FENCE


def take():
    """The guard, removed from this module: a worker keeps it where the student's code
    cannot reach it through module globals (``object.__subclasses__()`` and ``__globals__``
    lead to every module's namespace, and none of them may lead to the guard's state)."""
    global _FENCE
    fence = install()
    _FENCE = None
    return fence


def watching(groups, source_dirs=()):
    """A context manager enforcing ``groups`` on everything this process runs inside it.

    Yields a ``Watch`` whose ``violation`` holds the first ``ForbiddenCall`` (caught or not).
    ``source_dirs`` are where the code under test lives, to name its line in messages."""
    groups = tuple(groups)
    if not groups:
        return contextlib.nullcontext(Watch())
    return install().watching(groups, source_dirs)
