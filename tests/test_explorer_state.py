"""The explorer's state cannot get stuck: each failure once observed, then a long random walk.

The regression tests reproduce what issue 16 observed on the old design; the random walk
drives thousands of user actions (valid and refused, from Python and from the front end,
without waiting for searches in between) and checks the invariants after each wait().
"""

import collections
import threading

import numpy as np
import pandas as pd
import pytest
import traitlets

from spotlight_widget import SpotlightExplorer, find_spotlight
from spotlight_widget.explorer import payloads
from spotlight_widget.explorer.methods import check_methods
from spotlight_widget.explorer.store import ResultStore
from spotlight_widget.explorer.worker import SearchQueue, SearchRequest
from spotlight_widget.synthetic import planted_clusters

N = 240
# The state's mechanics (sizes, next, history, notes) are followed through the Spotlight,
# which always has a next result.
SPOTLIGHT_FIRST = list(check_methods(None, has_spotlights=True))


@pytest.fixture(scope="module")
def data():
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=3)
    rng = np.random.default_rng(0)
    meta = pd.DataFrame(
        {
            "group": np.where(np.isin(np.arange(N), d.planted[0]), "planted", "other"),
            "age": rng.integers(18, 90, size=N),
            "half": rng.random(N).astype(np.float16),
        }
    )
    return d, meta


def quiet(ex):
    """Keep the widget's messages to the front end (there is none in a test)."""
    ex.send = lambda content, buffers=None: None
    return ex


# -- regressions ------------------------------------------------------------------------


def test_float16_metadata_does_not_leave_the_explorer_running(data):
    d, meta = data
    ex = SpotlightExplorer(d.embeddings, d.losses, metadata=meta[["half"]], size=15)
    assert ex.wait(30)
    assert ex.status["state"] == "idle" and ex.error == ""
    assert len(ex.history) == 1 and ex.current == 0
    assert ex.breakdown and sum(row["count"] for row in ex.breakdown) == N


def test_anything_raised_after_the_search_is_shown_and_the_result_stays(data, monkeypatch):
    d, meta = data
    ex = SpotlightExplorer(d.embeddings, d.losses, metadata=meta, size=15, methods=SPOTLIGHT_FIRST)
    assert ex.wait(30)

    def broken(inputs, result):
        raise OverflowError("caption exploded")

    monkeypatch.setattr(payloads, "caption_of", broken)
    ex.size = 0.1
    assert ex.wait(30)
    # The new result is shown, without a caption, and the failure is said.
    assert ex.status["state"] == "error" and "caption exploded" in ex.status["message"]
    assert "caption exploded" in ex.error
    assert ex.history[ex.current]["size"] == 24 and ex.history[ex.current]["caption"] == ""
    # The next action goes through and clears it.
    ex.tab = "highest"
    assert ex.error == "" and ex.status["state"] == "idle"


def test_a_failed_search_keeps_the_last_good_result(data, monkeypatch):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=SPOTLIGHT_FIRST)
    assert ex.wait(30)
    first = ex.spotlight

    def broken(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(ex._store, "find", broken)
    ex.size = 0.1
    assert ex.wait(30)
    assert ex.status["state"] == "error" and "out of memory" in ex.error
    # The size control shows the result that is still shown.
    assert ex.spotlight is first and ex.size == pytest.approx(first.size / N)
    with pytest.raises(RuntimeError, match="out of memory"):
        ex.next()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1.0, 2.5, True, 0, -3, N, "big", None])
def test_a_refused_size_never_lands(data, bad):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=["spotlight", "highest-loss"])
    assert ex.wait(30)
    with pytest.raises(traitlets.TraitError):
        ex.size = bad
    assert ex.size == pytest.approx(0.0625) and ex.error
    # From the front end: refused, shown, and the widget's value sent back.
    sent = []
    ex.send_state = lambda key=None: sent.append(key)
    ex.set_state({"size": bad})
    assert ex.size == pytest.approx(0.0625) and ex.error and sent == ["size"]
    # A method switch afterwards works (it used to raise inside its observer).
    ex.method = "highest-loss"
    assert ex.wait(30) and ex.status["state"] == "idle" and ex.error == ""
    assert ex.spotlight.method == "highest-loss" and ex.spotlight.size == 15


def test_next_after_a_new_size_runs_at_that_size(data):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=SPOTLIGHT_FIRST)
    assert ex.wait(30)
    ex.size = 0.1
    found = ex.next()
    assert found.size == 24 and found.rank == 1
    assert [(row["size"], row["rank"]) for row in ex.history] == [(15, 0), (24, 0), (24, 1)]
    assert ex.current == 2 and ex.size == pytest.approx(0.1)


def test_the_last_size_asked_is_the_size_shown(data):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=SPOTLIGHT_FIRST)
    for size in (0.02, 0.1, 0.05, 0.08):
        ex.size = size
    assert ex.wait(30)
    assert ex.spotlight.size == 19 and ex.size == pytest.approx(19 / N)
    assert ex.status["state"] == "idle"


def test_with_counts_the_size_is_a_share_of_the_counted_examples(data):
    d, _ = data
    counts = np.full(N, 3.0)
    ex = SpotlightExplorer(d.embeddings, d.losses, counts=counts, size=0.05)
    assert ex.wait(30)
    direct = find_spotlight(d.embeddings, d.losses, size=0.05, counts=counts)
    assert ex.spotlight.size == direct.size == 36
    assert ex.history[0]["fraction"] == pytest.approx(0.05) and ex.size == pytest.approx(0.05)


def test_show_during_a_search_is_not_overridden_when_it_finishes(data, monkeypatch):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=SPOTLIGHT_FIRST)
    assert ex.wait(30)
    ex.size = 0.1
    assert ex.wait(30)
    release = threading.Event()
    original = ex._store.find

    def slow(*args, **kwargs):
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(ex._store, "find", slow)
    ex.size = 0.03
    ex.show(0)
    release.set()
    assert ex.wait(30)
    assert ex.current == 0 and ex.spotlight.size == 15
    # The search's result is not lost: it joined the history.
    assert [row["size"] for row in ex.history] == [15, 24, 7]


def test_no_further_result_is_said_and_the_last_one_stays(data):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=24, methods=["kmeans"])
    assert ex.wait(30)
    with pytest.raises(RuntimeError, match="no further cluster at this size") as failure:
        for _ in range(N):
            ex.next()
    count = len(ex.history)
    assert 2 <= count < N and ex.current == count - 1
    assert ex.status["state"] == "error" and ex.error == str(failure.value)


def test_a_note_belongs_to_its_result_from_either_side(data):
    d, _ = data
    ex = quiet(SpotlightExplorer(d.embeddings, d.losses, size=24, coords=None, methods=SPOTLIGHT_FIRST))
    try:
        assert ex.wait(30)
        ex.set_state({"shown_note": "<b>typed</b> in the widget"})
        ex.next()
        assert ex.shown_note == ""
        ex.note("noted from Python")
        assert ex.shown_note == "noted from Python"
        ex.current = 0
        assert ex.shown_note == "<b>typed</b> in the widget"
        assert ex.notes == {"spotlight": {0: "<b>typed</b> in the widget", 1: "noted from Python"}}
        ex.set_state({"shown_note": "x" * 10_001})
        assert "at most 10,000 characters" in ex.error
        assert ex.notes["spotlight"][0] == "<b>typed</b> in the widget"
        ex.shown_note = ""
        assert ex.notes == {"spotlight": {1: "noted from Python"}}
    finally:
        ex.close()


def test_export_refuses_what_is_not_a_result(data):
    d, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, methods=SPOTLIGHT_FIRST)
    assert ex.wait(30)
    with pytest.raises(TypeError, match="history position"):
        ex.to_dataframe(1.0)
    with pytest.raises(IndexError, match="no result #3"):
        ex.to_dataframe(3)
    frame = ex.to_dataframe(0)
    assert frame["in_top"].sum() == 15 and len(frame) >= 15


def test_queue_runs_in_order_and_is_idle_only_at_the_end():
    from spotlight_widget.engine import SearchCancelled

    started, events, cancelled = [], [], []
    begun, release = threading.Event(), threading.Event()

    def run(request, cancel):
        started.append(request.size)
        if request.size == 1:
            begun.set()
            release.wait(10)
            if cancel.is_set():
                cancelled.append(request.size)
                raise SearchCancelled

    queue = SearchQueue(run, lambda r, e: events.append(("failed", r.size)), lambda: events.append("idle"))
    queue.submit(SearchRequest("spotlight", 1, next_rank=True))
    queue.submit(SearchRequest("spotlight", 2, next_rank=True))
    assert not queue.wait(0.2) and queue.busy and events == []
    release.set()
    assert queue.wait(10)
    assert started == [1, 2] and events == ["idle"] and cancelled == []
    # A new size supersedes the sizes asked before it (queued, or running: cancelled), never a "next".
    release.clear()
    begun.clear()
    events.clear()
    started.clear()
    queue.submit(SearchRequest("kmeans", 1))
    assert begun.wait(10)
    queue.submit(SearchRequest("kmeans", 5, next_rank=True))
    queue.submit(SearchRequest("kmeans", 3))
    queue.submit(SearchRequest("kmeans", 4))
    assert queue.asked_size("kmeans") == 4 and queue.asked_size("gmm") is None
    release.set()
    assert queue.wait(10)
    assert started == [1, 5, 4] and cancelled == [1] and events == ["idle"]
    # A method switch's own search gives way to the next switch's.
    release.clear()
    begun.clear()
    started.clear()
    queue.submit(SearchRequest("gmm", 1, implicit=True))
    assert begun.wait(10)
    queue.submit(SearchRequest("kmeans", 2, implicit=True))
    release.set()
    assert queue.wait(10)
    assert started == [1, 2] and cancelled == [1, 1]
    queue.close()
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit(SearchRequest("gmm", 1))


def test_the_store_refuses_positions_it_does_not_have(data):
    from spotlight_widget.explorer.inputs import ExplorerInputs

    d, _ = data
    store = ResultStore(ExplorerInputs.build(d.embeddings, d.losses))
    with pytest.raises(IndexError, match="0 found so far"):
        store.show("spotlight", 0)
    store.find("spotlight", 10)
    assert store.show("spotlight", -1) == 0
    with pytest.raises(TypeError):
        store.show("spotlight", 0.0)


# -- the random walk --------------------------------------------------------------------

SIZES = (0.03, 0.06, 0.1, 12)
BAD = {
    "size": [float("nan"), 1.0, True, N, -1],
    "method": ["magic", "infembed"],
    "tab": ["nonsense", "opponents"],
    "page": [-1],
    "page_size": [0, 501],
    "selected": [[N], [-1, 2]],
    "sort_by": ["nonsense"],
    "filter_column": ["nonsense"],
    "filter_group": ["nonsense"],
    "breakdown_column": ["nonsense"],
    "overlay": ["saliency", "party"],
    "current": [99],
}


class Walk:
    """Random user actions on one explorer, with what the invariants need to know."""

    def __init__(self, ex, rng):
        self.ex, self.rng = ex, rng
        # By (direction, method): a comparison keeps each direction's results apart.
        self.seen = collections.defaultdict(list)
        self.selection = collections.defaultdict(list)
        self.log = []
        # The last action that decides which result is shown, and whether it was refused.
        self.shown_by = None
        self.refused = False

    def act(self):
        rng = self.rng
        kinds = ["size", "next", "show", "method", "select", "page", "tab", "sort", "filter", "breakdown", "bad"]
        weights = [0.12, 0.04, 0.1, 0.08, 0.1, 0.1, 0.08, 0.1, 0.1, 0.08, 0.1]
        if self.ex.comparison:
            kinds, weights = [*kinds, "direction"], [*weights, 0.08]
        kind = rng.choice(kinds, p=np.asarray(weights) / sum(weights))
        self.log.append(kind)
        getattr(self, f"do_{kind}")()

    def refuse(self, name, value, front_end):
        ex = self.ex
        # A search finishing meanwhile may move what is shown: compare with a settled value.
        ex.wait()
        before = getattr(ex, name)
        self.log.append(f"  refused {name}={value!r} ({'front end' if front_end else 'python'})")
        if front_end:
            ex.set_state({name: value})
        else:
            with pytest.raises(traitlets.TraitError):
                setattr(ex, name, value)
        assert getattr(ex, name) == before, self.log
        assert ex.error, self.log
        self.refused = True

    def accept(self):
        self.refused = False

    def do_size(self):
        size = SIZES[self.rng.integers(len(SIZES))]
        before = self.ex.size
        self.ex.size = size
        if self.ex.size != before:
            self.accept()
            self.shown_by = ("size", self.ex._inputs.size_count(size))

    def do_next(self):
        if self.ex.method == "highest-loss" and self.rng.random() < 0.5:
            return
        if self.rng.random() < 0.5:
            self.ex.next(wait=False)
        else:
            self.ex._on_message(self.ex, {"type": "next", "id": "n"}, [])
        self.accept()
        self.shown_by = ("next", None)

    def do_show(self):
        ex = self.ex
        ex.wait()
        count = len(ex.history)
        if not count:
            return
        k = int(self.rng.integers(count))
        if self.rng.random() < 0.5:
            ex.show(k)
            self.accept()
            self.shown_by = ("show", k)
        elif k != ex.current:
            ex.set_state({"current": k})
            self.accept()
            self.shown_by = ("show", k)

    def key(self):
        return self.ex.direction, self.ex.method

    def do_direction(self):
        ex = self.ex
        ex.set_state({"direction": "better" if ex.direction == "worse" else "worse"})
        self.accept()
        self.shown_by = ("direction", None)

    def do_method(self):
        ex = self.ex
        method = ex._inputs.methods[self.rng.integers(len(ex._inputs.methods))]
        if method != ex.method:
            ex.set_state({"method": method})
            self.accept()
            self.shown_by = ("method", None)

    def do_select(self):
        ex = self.ex
        if self.rng.random() < 0.5:
            chosen = sorted({int(i) for i in self.rng.integers(0, N, size=self.rng.integers(0, 6))})
            if chosen != ex.selected:
                ex.set_state({"selected": chosen})
                self.accept()
            self.selection[self.key()] = chosen
        else:
            mode = ["top", "above", "none"][self.rng.integers(3)]
            ex.wait()
            before = ex.selected
            ex._on_message(ex, {"type": "select", "id": "s", "mode": mode, "threshold": 0.5}, [])
            self.selection[self.key()] = ex.selected
            if ex.selected != before:
                self.accept()

    def set_view(self, name, value):
        if getattr(self.ex, name) != value:
            self.ex.set_state({name: value})
            self.accept()

    def do_page(self):
        if self.rng.random() < 0.3:
            self.set_view("page_size", int(self.rng.choice([5, 10, 48])))
        else:
            self.set_view("page", int(self.rng.integers(0, 4)))

    def do_tab(self):
        self.set_view("tab", ["spotlight", "highest", "random"][self.rng.integers(3)])

    def do_sort(self):
        if self.rng.random() < 0.3:
            self.set_view("sort_descending", not self.ex.sort_descending)
        else:
            self.set_view("sort_by", ["", "weight", "loss", "group", "age", "half"][self.rng.integers(6)])

    def do_filter(self):
        ex = self.ex
        if self.rng.random() < 0.5:
            self.set_view("filter_column", ["", "group", "age"][self.rng.integers(3)])
        elif ex.filter_groups:
            self.set_view("filter_group", ["", *ex.filter_groups][self.rng.integers(len(ex.filter_groups) + 1)])

    def do_breakdown(self):
        self.set_view("breakdown_column", ["", "group", "age", "half"][self.rng.integers(4)])

    def do_bad(self):
        names = sorted(BAD)
        name = names[self.rng.integers(len(names))]
        values = BAD[name]
        self.refuse(name, values[self.rng.integers(len(values))], front_end=bool(self.rng.random() < 0.5))

    def check(self):
        ex = self.ex
        assert ex.wait(60), self.log
        log = " | ".join(map(str, self.log[-14:]))
        state = ex.status["state"]
        assert state in ("idle", "error"), (ex.status, log)
        # Every failure is shown; nothing is shown once an action went through.
        if state == "error":
            assert ex.error and ex.status["message"], log
        elif not self.refused:
            assert ex.error == "", (ex.error, log)
        # The history and what is shown agree with the store, and no method lost results.
        results = ex.spotlights
        assert len(ex.history) == len(results), log
        rows = [(row["size"], row["rank"]) for row in ex.history]
        assert rows == [(r.size, r.rank) for r in results], log
        previous = self.seen[self.key()]
        assert rows[: len(previous)] == previous, (rows, previous, log)
        self.seen[self.key()] = rows
        if results:
            assert 0 <= ex.current < len(results), log
            shown = results[ex.current]
            # S as asked (a cluster's own size may differ from it).
            asked = ex._store.view(ex.method).size
            assert ex.size == pytest.approx(asked / N), (ex.size, asked, log)
            assert ex.spotlight is shown
            how, value = self.shown_by or (None, None)
            if state == "idle" and how == "size":
                assert asked == value, (asked, value, log)
            if how == "show":
                assert ex.current == value, log
        else:
            assert ex.current == -1, log
        # The selection is the method's own, checked and sorted.
        assert ex.selected == sorted(set(ex.selected)) and all(0 <= i < N for i in ex.selected), log
        assert ex.selected == self.selection[self.key()], (ex.selected, self.selection[self.key()], log)
        self.check_page(results[ex.current] if results else None)
        if ex.breakdown_column and results:
            assert sum(row["count"] for row in ex.breakdown) == N, log

    def check_page(self, shown):
        ex = self.ex
        listed = {
            "spotlight": [] if shown is None else list(shown.indices),
            "highest": list(np.argsort(-ex._inputs.losses, kind="stable")),
            "random": list(ex._inputs.random_order),
        }[ex.tab]
        if ex.filter_column and ex.filter_group:
            groups = ex._inputs.groups(ex.filter_column)
            listed = [i for i in listed if groups[i] == ex.filter_group]
        assert ex.total_items == len(listed), self.log[-30:]
        indices = [item["index"] for item in ex.page_items]
        assert len(indices) == len(listed[ex.page * ex.page_size :][: ex.page_size])
        if not ex.sort_by:
            start = ex.page * ex.page_size
            assert indices == listed[start : start + ex.page_size], self.log[-30:]
        elif ex.sort_by == "loss" and ex.page == 0:
            losses = ex._inputs.losses[indices]
            assert (np.diff(losses) <= 0).all() if ex.sort_descending else (np.diff(losses) >= 0).all()


@pytest.mark.parametrize("seed", [int(s) for s in __import__("os").environ.get("WALK_SEEDS", "0 1").split()])
def test_random_walk_of_user_actions_keeps_every_invariant(data, seed):
    d, meta = data
    ex = quiet(
        SpotlightExplorer(
            d.embeddings, d.losses, metadata=meta, methods=["spotlight", "highest-loss", "kmeans", "gmm"], size=15
        )
    )
    walk = Walk(ex, np.random.default_rng(seed))
    walk.check()
    for _ in range(1000):
        walk.act()
        if walk.rng.random() < 0.25:
            walk.check()
    walk.check()


def test_random_walk_of_a_comparison_keeps_every_invariant(data):
    # The same walk on two models' loss difference, switching direction as well.
    d, meta = data
    older = d.losses * np.random.default_rng(7).uniform(0.5, 1.5, size=N)
    ex = quiet(
        SpotlightExplorer.compare(
            d.embeddings, older, d.losses, metadata=meta, methods=["spotlight", "highest-loss", "kmeans"], size=15
        )
    )
    walk = Walk(ex, np.random.default_rng(11))
    walk.check()
    for _ in range(400):
        walk.act()
        if walk.rng.random() < 0.25:
            walk.check()
    walk.check()
    assert "direction" in walk.log
    ex.close()
