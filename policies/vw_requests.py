"""Requests as parsed VW examples, with the action lines of items seen again parsed once and
reused.

A request's multi-line example (:mod:`policies.vw_examples`) is its shared line, one action
line per candidate and its slot lines. The shared and slot lines change with every request
and are parsed by VW each time; an item's action line is the same in every request that
shows the item, so :class:`ParsedActions` has VW parse a line seen again into an example it
keeps and lends to every later request showing it. VW's reductions restore the action
examples they touch after each call (predictions and learning equal those from parsing the
whole text every time: tested), so one kept example serves any number of requests.

Parsing the text was a third of VW's time per request on 20 candidates
(``benchmarks/bench_vw.py``). The lines a batch of requests still needs parsed go to VW's
parser in one call (:class:`RequestExamples`), and the batch is then predicted or learnt
request by request.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pylibvw

MAX_PARSED_ACTIONS = 4096
"""Most action examples :class:`ParsedActions` keeps. An example holds VW's 256 namespaces,
about 31 KB whatever its features, so the kept ones take at most about 130 MB."""

MAX_SEEN_LINES = 65_536
"""Most action lines :class:`ParsedActions` remembers having seen once; beyond it that memory
starts again."""

LABEL_TYPES = {
    "ccb": pylibvw.vw.lConditionalContextualBandit,
    "slates": pylibvw.vw.lSlates,
}
"""VW's label type of each reduction's examples, by the label word of its lines."""

Method = TypeVar("Method", bound=Callable[..., Any])

Actions = tuple[list[Any], int]
"""A request's actions: per candidate its kept example or, where it has none, its line (parsed
with the request), and how many are lines."""


class ParsedActions:
    """Action lines parsed by one workspace and kept as examples this cache owns (VW frees
    one when the cache lets it go).

    A line is kept the second time it is seen, while fewer than :data:`MAX_PARSED_ACTIONS`
    are kept; after that the kept ones stay and other lines are parsed with their requests.
    An owned example costs about four times a line parsed with its request, so a line seen
    once (an item shown once in a large catalogue) is not worth keeping, and a full cache
    is kept rather than started again (which would parse the same lines over and over).

    Parameters
    ----------
    kind : {"ccb", "slates"}
        The label word of the lines (:class:`policies.vw_examples.RequestHeads`).
    """

    def __init__(self, kind: str) -> None:
        self.label_type = LABEL_TYPES[kind]
        self._workspace: Any = None
        self._examples: dict[str, pylibvw.example] = {}
        self._seen: set[str] = set()

    def many(self, workspace: Any, requests: Sequence[Sequence[str]]) -> list[Actions]:
        """:meth:`__call__` of each request's action lines, in order; one pass over the
        kept examples when every line is kept."""
        if workspace is not self._workspace:
            self._workspace, self._examples, self._seen = workspace, {}, set()
        kept = self._examples.__getitem__
        try:
            return [(list(map(kept, lines)), 0) for lines in requests]
        except KeyError:  # some lines are not kept
            return [self(workspace, lines) for lines in requests]

    def __call__(self, workspace: Any, lines: Sequence[str]) -> Actions:
        """Each line's kept example (or the line itself) for ``workspace``, and how many are
        lines; a new workspace (a reloaded model) starts the cache again."""
        if workspace is not self._workspace:
            self._workspace, self._examples, self._seen = workspace, {}, set()
        examples = self._examples
        try:
            return list(map(examples.__getitem__, lines)), 0
        except KeyError:  # some lines are not kept
            pass
        seen = self._seen
        if len(seen) > MAX_SEEN_LINES:
            seen.clear()
        actions: list[Any] = []
        fresh = 0
        for line in lines:
            example = examples.get(line)
            if example is None:
                if line in seen and len(examples) < MAX_PARSED_ACTIONS:
                    example = examples[line] = pylibvw.example(workspace, self.label_type, line)
                else:
                    seen.add(line)
                    example, fresh = line, fresh + 1
            actions.append(example)
        return actions, fresh


MAX_PARSED_LINES = 512
"""Most lines :func:`predict_requests` and :func:`learn_requests` have VW parse in one call
(a request with more is parsed alone): VW keeps every example it ever handed out for reuse
(about 31 KB each), so parsing a whole large batch at once would hold that memory for good."""


class RequestExamples:
    """Requests' multi-line examples: every request's shared line, its action lines not kept
    and its slot lines parsed by VW in one call, around its kept action examples. Each
    request is predicted, or labelled and learnt, on its own, in order; :meth:`finish` hands
    the parsed lines back to VW (once per request).

    Parameters
    ----------
    workspace : vowpalwabbit.Workspace
    requests : sequence of (str, (list, int)), length n_requests
        Each request's shared line and its candidates' actions from :class:`ParsedActions`.
    slots : sequence of str, length n_requests
        Each request's slot lines, each line after a newline.
    """

    __slots__ = ("examples", "parsed", "workspace")

    def __init__(
        self, workspace: Any, requests: Sequence[tuple[str, Actions]], slots: Sequence[str]
    ) -> None:
        self.workspace = workspace
        texts = [
            "\n".join([shared, *(line for line in kept if isinstance(line, str))]) + slot
            if fresh
            else shared + slot
            for (shared, (kept, fresh)), slot in zip(requests, slots, strict=True)
        ]
        parsed = workspace._parse("\n".join(texts))
        self.parsed: list[list[pylibvw.example]] = []
        """Each request's parsed examples (shared, action lines, slots); [] once finished."""
        self.examples: list[list[pylibvw.example]] = []
        """Each request's whole example: shared, every action in order, slots."""
        start = 0
        for (_, (kept, fresh)), slot in zip(requests, slots, strict=True):
            end = start + 1 + fresh + slot.count("\n")
            mine = parsed[start:end]
            actions = kept
            if fresh:
                lines = iter(mine[1 : 1 + fresh])
                actions = [next(lines) if isinstance(action, str) else action for action in kept]
            self.parsed.append(mine)
            self.examples.append([mine[0], *actions, *mine[1 + fresh :]])
            start = end
        if start != len(parsed):  # a line VW read as more or fewer examples than expected
            self.parsed.append(parsed[start:])
            self.finish()
            raise ValueError(
                f"VW parsed {len(parsed)} examples from the lines of {len(texts)} requests, "
                f"{start} expected; a line holds a newline or is empty."
            )

    def predict(self) -> list[list[list[tuple[int, float]]]]:
        """VW's decision scores of each request in turn: per slot, (action, probability)
        pairs. Predicting only."""
        workspace, predict = self.workspace, pylibvw.vw.predict_multi
        scores = []
        for examples in self.examples:
            predict(workspace, examples)
            scores.append(examples[0].get_decision_scores())
        return scores

    def learn(self, last_slot_labels: Sequence[str] | None = None) -> None:
        """Learn from each request in turn, finishing it after; with ``last_slot_labels``, its
        last slot first gets the CCB label ``last_slot_labels[i]`` (e.g. ``"ccb slot
        3:-1:0.25"``), else the labels are those of its lines. Every request is finished
        even if VW fails."""
        workspace, parsed = self.workspace, self.parsed
        learn, finish = pylibvw.vw.learn_multi, pylibvw.vw._finish_example_multi_ex
        ccb = pylibvw.vw.lConditionalContextualBandit
        try:
            for row, examples in enumerate(self.examples):
                if last_slot_labels is not None:
                    examples[-1].set_label_string(workspace, last_slot_labels[row], ccb)
                learn(workspace, examples)
                mine, parsed[row] = parsed[row], []
                finish(workspace, mine)
        finally:
            self.finish()

    def finish(self) -> None:
        """Return the parsed lines of every request not finished yet to VW; they cannot be
        used after this."""
        parsed, self.parsed = self.parsed, []
        for mine in parsed:
            if mine:
                pylibvw.vw._finish_example_multi_ex(self.workspace, mine)


def _chunks(requests: Sequence[tuple[str, Actions]], slots: Sequence[str]) -> Iterator[slice]:
    """Consecutive runs of requests of at most :data:`MAX_PARSED_LINES` lines to parse (a
    request with more on its own)."""
    start, lines = 0, 0
    for row, ((_, (_, fresh)), slot) in enumerate(zip(requests, slots, strict=True)):
        size = 1 + fresh + slot.count("\n")
        if lines + size > MAX_PARSED_LINES and row > start:
            yield slice(start, row)
            start, lines = row, 0
        lines += size
    if start < len(requests):
        yield slice(start, len(requests))


def predict_requests(
    workspace: Any, requests: Sequence[tuple[str, Actions]], slots: Sequence[str]
) -> list[list[list[tuple[int, float]]]]:
    """:meth:`RequestExamples.predict` of requests used once (parsed at most
    :data:`MAX_PARSED_LINES` lines at a time), each with its slot lines ``slots[i]``."""
    scores = []
    for chunk in _chunks(requests, slots):
        examples = RequestExamples(workspace, requests[chunk], slots[chunk])
        try:
            scores += examples.predict()
        finally:
            examples.finish()
    return scores


def learn_requests(
    workspace: Any, requests: Sequence[tuple[str, Actions]], slots: Sequence[str]
) -> None:
    """:meth:`RequestExamples.learn` of requests used once (their labels are in their
    lines; parsed at most :data:`MAX_PARSED_LINES` lines at a time)."""
    for chunk in _chunks(requests, slots):
        RequestExamples(workspace, requests[chunk], slots[chunk]).learn()


def collection_paused(method: Method) -> Method:
    """``method`` with Python's cyclic garbage collector paused while it runs (and on again
    after, if it was on).

    A batch makes thousands of short-lived containers (VW's decision scores alone are a list
    of lists of tuples per request), which would set off several collections per batch and,
    every few batches, a pass over every object of the process; paused, they are freed by
    reference counting before the collector next looks. ``benchmarks/bench_vw.py``: about
    15% of act + update's time on one core.
    """

    @functools.wraps(method)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return paused  # type: ignore[return-value]
