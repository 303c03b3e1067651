"""One builder for the presets: each preset states its parts' parameters, this wires them.

A preset (:mod:`simulator.latent_factor`, :mod:`simulator.streaming`, :mod:`simulator.shop`)
calls :func:`build_world` with one mapping of keyword arguments per part; the builder passes
the shared ones (``n_latent``, the owner named in errors), checks the slate size against the
catalogue and a buying reward against a preset without prices, and builds the parts in a
fixed order (catalogue, users, context, fatigue, trends, choice model, reward, world), so the
first bad parameter is the one reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bandits.validation import InputValueError, check_integer
from simulator.catalogue import Catalogue
from simulator.choice import make_choice_model
from simulator.context import Context
from simulator.fatigue import Fatigue
from simulator.reward import make_reward
from simulator.trends import Trends
from simulator.users import Users
from simulator.world import World


def build_world(
    owner: str,
    *,
    catalogue: Mapping[str, Any],
    users: Mapping[str, Any],
    choice: Mapping[str, Any],
    reward: Mapping[str, Any],
    requests: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    fatigue: Mapping[str, Any] | None = None,
    trends: Mapping[str, Any] | None = None,
) -> World:
    """The world of a preset.

    Parameters
    ----------
    owner : str
        The preset's name, for error messages.
    catalogue : mapping
        Keyword arguments of :class:`~simulator.catalogue.Catalogue` (with ``n_latent``).
    users, context : mapping
        Of :class:`~simulator.users.Users` and :class:`~simulator.context.Context`, without
        ``n_latent`` (the catalogue's); no context: no signals.
    choice : mapping
        ``choice_model``, ``slate_size``, ``examination``, ``no_click_logit``
        (:func:`~simulator.choice.make_choice_model`).
    reward : mapping
        ``reward`` (a name or weights) and the keyword arguments of
        :func:`~simulator.reward.make_reward`.
    requests : mapping
        ``n_requests``, ``min_candidates``, ``max_candidates``, ``logit_scale`` and the other
        keyword arguments of :class:`~simulator.world.World`.
    fatigue, trends : mapping, optional
        Of :class:`~simulator.fatigue.Fatigue` and :class:`~simulator.trends.Trends`; none by
        default.
    """
    items = Catalogue(**catalogue, owner=owner)
    n_latent = items.n_latent
    people = Users(**users, n_latent=n_latent, owner=owner)
    signals = Context(**(context or {}), n_latent=n_latent, owner=owner)
    tiring = None if fatigue is None else Fatigue(**fatigue, owner=owner)
    trending = None if trends is None else Trends(**trends, owner=owner)
    choice_params = dict(choice)
    size = check_integer(
        choice_params.pop("slate_size"), "slate_size", owner, low=1, high=items.n_items
    )
    reward_params = dict(reward)
    chooser = make_choice_model(
        choice_params.pop("choice_model"), slate_size=size, owner=owner, **choice_params
    )
    named = reward_params.pop("reward")
    earning = make_reward(named, owner=owner, **reward_params)
    if earning.needs_prices and "price_median" not in catalogue:
        raise InputValueError(
            f"The 'reward' parameter of {owner} buys items ('purchase' or 'revenue'), but "
            f"{owner} has no prices: choose a reward without them ('click', 'watch_time' or a "
            f"mix of those); got reward={named!r}."
        )
    return World(
        catalogue=items,
        users=people,
        context=signals,
        choice_model=chooser,
        reward=earning,
        fatigue=tiring,
        trends=trending,
        owner=owner,
        **requests,
    )
