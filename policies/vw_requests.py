"""Requests as parsed VW examples, with each item's action line parsed once and reused.

A request's multi-line example (:mod:`policies.vw_examples`) is its shared line, one action
line per candidate and its slot lines. The shared and slot lines change with every request
and are parsed by VW each time; an item's action line is the same in every request that
shows the item, so :class:`ParsedActions` has VW parse it once into an example it keeps
and lends to every such request. VW's reductions restore the action examples they touch
after each call (predictions, learning and the saved model equal those from parsing the
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
about 31 KB whatever its features, so the bound keeps the cache near 130 MB; beyond it the
cache starts again."""

LABEL_TYPES = {
    "ccb": pylibvw.vw.lConditionalContextualBandit,
    "slates": pylibvw.vw.lSlates,
}
"""VW's label type of each reduction's examples, by the label word of its lines."""


class ParsedActions:
    """Action lines parsed by one workspace, each kept as an example this cache owns (VW
    frees it when the cache lets it go).

    Parameters
    ----------
    kind : {"ccb", "slates"}
        The label word of the lines (:class:`policies.vw_examples.RequestHeads`).
    """

    def __init__(self, kind: str) -> None:
        self.label_type = LABEL_TYPES[kind]
        self._workspace: Any = None
        self._examples: dict[str, pylibvw.example] = {}

    def __call__(self, workspace: Any, lines: Sequence[str]) -> list[pylibvw.example]:
        """The examples of ``lines`` parsed by ``workspace``, shape (len(lines),); a new
        workspace (a reloaded model) starts the cache again."""
        examples = self._examples
        if workspace is not self._workspace or len(examples) + len(lines) > MAX_PARSED_ACTIONS:
            self._workspace, examples = workspace, {}
            self._examples = examples
        try:
            return list(map(examples.__getitem__, lines))
        except KeyError:  # an item not seen since the cache started
            for line in lines:
                if line not in examples:
                    examples[line] = pylibvw.example(workspace, self.label_type, line)
            return list(map(examples.__getitem__, lines))


class RequestExample:
    """One request's multi-line example: its shared and slot lines parsed afresh around the
    kept ``actions``; :meth:`finish` hands the parsed lines back to VW (once).

    Parameters
    ----------
    workspace : vowpalwabbit.Workspace
    shared : str
        The shared line.
    actions : list of pylibvw.example
        The candidates' action examples, from :class:`ParsedActions`.
    slots : str
        The slot lines, each after a newline.
    """

    __slots__ = ("examples", "parsed", "workspace")

    def __init__(
        self, workspace: Any, shared: str, actions: list[pylibvw.example], slots: str
    ) -> None:
        self.workspace = workspace
        self.parsed: list[pylibvw.example] = workspace._parse(shared + slots)
        self.examples = [self.parsed[0], *actions, *self.parsed[1:]]

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
    workspace: Any, shared: str, actions: list[pylibvw.example], slots: str
) -> list[list[tuple[int, float]]]:
    """:meth:`RequestExample.predict` of a request used once."""
    request = RequestExample(workspace, shared, actions, slots)
    try:
        return request.predict()
    finally:
        request.finish()


def learn_request(workspace: Any, shared: str, actions: list[pylibvw.example], slots: str) -> None:
    """:meth:`RequestExample.learn` of a request used once (its labels are in its lines)."""
    request = RequestExample(workspace, shared, actions, slots)
    try:
        request.learn()
    finally:
        request.finish()
