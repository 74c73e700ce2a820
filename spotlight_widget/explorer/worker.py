"""The explorer's searches, run one at a time in a worker thread, in the order they were asked.

User intent is never dropped by accident: requests queue up and run in order, so "next"
asked after a new size runs at that size. Only requests made pointless by a newer one are
dropped, by these rules:

- a new size for a method supersedes that method's earlier size requests (queued or
  running, unless the running one is for the same size);
- switching methods supersedes the searches that earlier switches started on their own
  (the first result of a method with none yet), since nobody is looking at it any more.

"Next" requests are never dropped: each one is a click.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import SearchCancelled

log = logging.getLogger(__name__)

# Queues whose worker may still run: a search thread still inside torch when the
# interpreter exits aborts the process, so they are cancelled and joined first.
_LIVE: weakref.WeakSet[SearchQueue | BackgroundTask] = weakref.WeakSet()


@dataclass(frozen=True)
class SearchRequest:
    """One search the user asked for.

    Attributes
    ----------
    method : str
        The slice finder.
    size : int
        S, in (counted) examples.
    next_rank : bool
        The next result after those seen at this size (else the first one).
    implicit : bool
        Started by switching to a method with no result yet, not by the user asking.
    moves : int
        ``ResultStore.moves(method)`` when asked: if the user moves through the history
        before it finishes, the result joins the history without being shown.
    direction : str
        Which loss difference a comparison searches ("worse" or "better"; see
        ``SpotlightExplorer.compare``): each has its own results, so a method searched in
        one direction is a different search from the same method in the other.
    """

    method: str
    size: int
    next_rank: bool = False
    implicit: bool = False
    moves: int = 0
    direction: str = "worse"

    @property
    def key(self) -> tuple[str, str]:
        """What the results of this search belong to: a method, in a direction."""
        return self.method, self.direction

    def supersedes(self, other: SearchRequest) -> bool:
        if self.implicit:
            return other.implicit and other.key != self.key
        return not self.next_rank and not other.next_rank and other.key == self.key


class SearchQueue:
    """A FIFO of ``SearchRequest`` served by one daemon thread.

    Parameters
    ----------
    run : callable
        ``run(request, cancel)`` does the work; ``cancel`` is a ``threading.Event`` set when
        a newer request supersedes it. ``SearchCancelled`` from it is expected and silent.
    failed : callable
        ``failed(request, exception)`` for anything else ``run`` raises.
    idle : callable
        Called by the worker when the queue has drained, before ``wait`` returns.
    """

    def __init__(
        self,
        run: Callable[[SearchRequest, threading.Event], None],
        failed: Callable[[SearchRequest, BaseException], None],
        idle: Callable[[], None],
    ):
        self._run, self._failed, self._idle = run, failed, idle
        # Re-entrant: the callbacks publish to the widget, whose observers may submit.
        self._cond = threading.Condition(threading.RLock())
        self._queue: deque[SearchRequest] = deque()
        self._running: tuple[SearchRequest, threading.Event] | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, request: SearchRequest) -> None:
        """Queue a request, dropping and cancelling those it supersedes."""
        with self._cond:
            if self._closed:
                raise RuntimeError("this explorer has been closed")
            self._queue = deque(r for r in self._queue if not request.supersedes(r))
            if self._running is not None:
                running, cancel = self._running
                same = running.size == request.size and running.key == request.key
                if request.supersedes(running) and not (same and not request.implicit):
                    cancel.set()
            self._queue.append(request)
            self._busy = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="spotlight-search", daemon=True)
                self._thread.start()
                _LIVE.add(self)
            self._cond.notify_all()

    def asked_size(self, method: str, direction: str = "worse") -> int | None:
        """S of the newest request for ``method`` not yet finished (None: none is waiting)."""
        key = (method, direction)
        with self._cond:
            waiting = [r for r in self._queue if r.key == key]
            if self._running is not None and self._running[0].key == key:
                waiting.insert(0, self._running[0])
            return waiting[-1].size if waiting else None

    @property
    def busy(self) -> bool:
        """Whether a request is queued or running (or the idle callback is still publishing)."""
        with self._cond:
            return self._busy

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every request has finished; True when idle, False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def close(self, timeout: float = 0.0) -> None:
        """Cancel everything and stop the worker, waiting up to ``timeout`` s for it to stop."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            if self._running is not None:
                self._running[1].set()
            self._cond.notify_all()
            thread = self._thread
        if timeout > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _serve(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    self._busy = False
                    self._cond.notify_all()
                    return
                if not self._queue:
                    # Under the lock: a request submitted meanwhile waits until idle() has run.
                    try:
                        self._idle()
                    finally:
                        self._busy = False
                        self._thread = None
                        self._cond.notify_all()
                    return
                request = self._queue.popleft()
                cancel = threading.Event()
                self._running = (request, cancel)
            error: BaseException | None = None
            try:
                self._run(request, cancel)
            except SearchCancelled:
                pass
            except BaseException as exc:  # shown in the widget, never lost in a thread
                error = exc
            with self._cond:
                self._running = None
            if error is not None:
                try:
                    self._failed(request, error)
                except Exception:
                    log.exception("reporting a failed search failed too")


class BackgroundTask:
    """One piece of work in its own daemon thread (the map's projection), cancellable.

    Unlike searches it does not queue: the explorer stays usable while it runs, and
    starting it again cancels the run in progress.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    def start(self, work: Callable[[threading.Event], None]) -> None:
        """Run ``work(cancel)``; it must catch its own errors (they are the caller's to show)."""
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            cancel = threading.Event()
            self._cancel = cancel
            self._thread = threading.Thread(target=work, args=(cancel,), name="spotlight-map", daemon=True)
            self._thread.start()
            _LIVE.add(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has finished; True when it has."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def close(self, timeout: float = 0.0) -> None:
        """Cancel the work, waiting up to ``timeout`` s for it to stop."""
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            thread = self._thread
        if timeout > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


@atexit.register
def _stop_all() -> None:
    for queue in list(_LIVE):
        queue.close(timeout=5)
