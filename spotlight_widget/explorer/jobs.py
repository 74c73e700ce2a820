"""Searches in a worker thread: a newer request cancels an older one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..engine import SearchCancelled


class Jobs:
    """Run one job at a time in a background thread; starting a job cancels the previous one.

    ``run(work, done, failed)`` calls ``work(cancel_event)`` in a new daemon thread, then
    ``done(result)`` or ``failed(exception)`` in that thread, unless the job was
    superseded (then neither is called: its result is stale).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._generation = 0

    def run(
        self,
        work: Callable[[threading.Event], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> threading.Thread:
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            self._generation += 1
            generation = self._generation
            cancel = threading.Event()
            self._cancel = cancel

        def target() -> None:
            try:
                result = work(cancel)
            except SearchCancelled:
                return
            except BaseException as exc:  # reported in the widget, never lost in a thread
                if self._current(generation):
                    failed(exc)
                return
            if self._current(generation):
                done(result)

        thread = threading.Thread(target=target, name="spotlight-search", daemon=True)
        with self._lock:
            self._thread = thread
        thread.start()
        return thread

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the latest job; True when it has finished."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return True
            thread.join(timeout)
            if thread.is_alive():
                return False
            with self._lock:
                if self._thread is thread:
                    return True

    def cancel(self) -> None:
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            self._generation += 1
