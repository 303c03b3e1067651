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
(``benchmarks/bench_vw.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class RequestExample:
    """One request's multi-line example: its shared and slot lines (and the action lines not
    kept) parsed afresh around the kept action examples; :meth:`finish` hands the parsed
    lines back to VW (once).

    Parameters
    ----------
    workspace : vowpalwabbit.Workspace
    shared : str
        The shared line.
    actions : (list, int)
        The candidates' actions from :class:`ParsedActions`.
    slots : str
        The slot lines, each after a newline.
    """

    __slots__ = ("examples", "parsed", "workspace")

    def __init__(self, workspace: Any, shared: str, actions: Actions, slots: str) -> None:
        self.workspace = workspace
        kept, fresh = actions
        if not fresh:
            self.parsed: list[pylibvw.example] = workspace._parse(shared + slots)
            self.examples = [self.parsed[0], *kept, *self.parsed[1:]]
            return
        lines = [action for action in kept if isinstance(action, str)]
        parsed = self.parsed = workspace._parse("\n".join([shared, *lines]) + slots)
        parsed_lines = iter(parsed[1 : 1 + fresh])
        self.examples = [
            parsed[0],
            *(next(parsed_lines) if isinstance(action, str) else action for action in kept),
            *parsed[1 + fresh :],
        ]

    def predict(self) -> list[list[tuple[int, float]]]:
        """VW's decision scores: per slot, (action, probability) pairs. Predicting only."""
        pylibvw.vw.predict_multi(self.workspace, self.examples)
        scores: list[list[tuple[int, float]]] = self.examples[0].get_decision_scores()
        return scores

    def label_last_slot(self, label: str) -> None:
        """Give the last slot the CCB label ``label`` (e.g. ``"ccb slot 3:-1:0.25"``)."""
        self.examples[-1].set_label_string(
            self.workspace, label, pylibvw.vw.lConditionalContextualBandit
        )

    def learn(self) -> None:
        """Learn from the example as labelled."""
        pylibvw.vw.learn_multi(self.workspace, self.examples)

    def finish(self) -> None:
        """Return the parsed lines to VW; the example cannot be used after this."""
        parsed, self.parsed = self.parsed, []
        if parsed:
            pylibvw.vw._finish_example_multi_ex(self.workspace, parsed)


def predict_request(
    workspace: Any, shared: str, actions: Actions, slots: str
) -> list[list[tuple[int, float]]]:
    """:meth:`RequestExample.predict` of a request used once."""
    request = RequestExample(workspace, shared, actions, slots)
    try:
        return request.predict()
    finally:
        request.finish()


def learn_request(workspace: Any, shared: str, actions: Actions, slots: str) -> None:
    """:meth:`RequestExample.learn` of a request used once (its labels are in its lines)."""
    request = RequestExample(workspace, shared, actions, slots)
    try:
        request.learn()
    finally:
        request.finish()
