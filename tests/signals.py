"""Child processes that tests interrupt with SIGINT (as Ctrl-C would)."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` that gives the child the default SIGINT disposition.

    A shell without job control starts background commands (``.ci/run &``, ``nohup``) with SIGINT
    ignored, the child inherits that, and Python then installs no KeyboardInterrupt handler: the
    SIGINT a test sends would be ignored and the run would finish instead of stopping with exit
    130. ``bench run`` rightly keeps an inherited "ignore"; the test wants Ctrl-C behaviour.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
