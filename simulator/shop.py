"""The ``bandits/OnlineShop-v0`` preset: a shop with priced products in genres, a purchase after
the click, new products and new shoppers (cold start), seasonal genres and popularity shocks."""

from __future__ import annotations

from collections.abc import Mapping

from numpy.typing import ArrayLike

from simulator.env import SlateEnv
from simulator.presets import build_world
from simulator.reward import DEFAULT_SPREAD

STEPS_PER_DAY = 24
"""Default steps per simulated day: a step is an hour."""

DEFAULT_REWARD: Mapping[str, float] = {"click": 0.1, "purchase": 1.0}
"""Default reward: a purchase, plus a little for the click."""

PURCHASE_DEFAULTS = (2.0, 0.8)
"""``purchase_intercept`` and ``price_sensitivity`` when a reward with a purchase leaves them
unset."""


class OnlineShopEnv(SlateEnv):
    """An online shop: the latent-factor world of :class:`LatentFactorEnv` with

    - products in ``n_genres`` categories of ``micro_genres`` sub-categories each (genre
      one-hot in the item features), a price each (log-normal, median ``price_median``,
      spread ``price_spread``; ``log(price / price_median)`` is the last item feature),
      quality and Zipf popularity (``popularity_weight``); ``env.item_attributes()`` lists
      them;
    - candidates tilted by popularity: each request's candidates are drawn without
      replacement from the mixture ``(1 - candidate_popularity) uniform +
      candidate_popularity popularity`` over the live products (popular products are
      offered more often; :meth:`simulator.catalogue.Catalogue.draw_candidates`);
    - novelty: a product released at step ``r`` has the logit boost ``novelty_weight *
      novelty_decay**(t - r)`` (half-life about 69 steps, three days, by default);
    - a purchase after a click with probability ``sigmoid(purchase_intercept -
      price_sensitivity log price)`` (unset: 2.0 and 0.8; setting either with a reward that
      has no ``"purchase"`` or ``"revenue"`` is an error, not silently ignored); the reward
      is the weighted mix ``reward`` of
      ``"click"``, ``"purchase"``, ``"revenue"`` (price if bought) and ``"watch_time"``
      (default 0.1 click + 1 purchase); ``info["expected_signals"]`` has the exact expected
      clicks, purchases (and revenue) per request;
    - shoppers of ``n_segments`` segments with tastes mixing the categories; context signals:
      device (phone, tv, desktop; ``device_attention`` adds a logit offset per device: by
      default a phone shopper is less attentive, -0.3), time of day, weekday, season and
      location (``n_locations``, a home location per shopper, ``travel_probability`` of
      being elsewhere);
    - cold start: ``initial_items`` products at first, ``items_per_step`` new ones per step
      (retiring after ``item_lifetime`` steps), ``initial_users`` shoppers at first and
      ``users_per_step`` new ones per step, until ``n_items`` products and ``n_users``
      shoppers have come (steps 800 and 100 by default);
    - non-stationarity: seasonal category trends (``trend_amplitude``, a year of
      ``steps_per_year`` steps) and popularity shocks (every ``shock_every`` steps,
      ``shock_items`` products get ``shock_size`` decaying by ``shock_decay`` per step for
      ``shock_duration`` steps); a light fatigue with a category after exposures and clicks;
    - by default the multinomial logit (at most one click per slate).

    Parameters are the ones named above and, with the same meaning, those of
    :class:`StreamingServiceEnv` that appear in this signature; its boredom, churn, drift,
    click-drift and day-of-week settings are not taken here.
    """

    def __init__(
        self,
        *,
        n_users: int = 3000,
        initial_users: int = 1000,
        users_per_step: int = 20,
        n_items: int = 5000,
        initial_items: int = 1000,
        items_per_step: int = 5,
        item_lifetime: int = 60 * STEPS_PER_DAY,
        n_latent: int = 8,
        n_genres: int = 10,
        micro_genres: int = 5,
        n_segments: int = 4,
        n_requests: int = 64,
        slate_size: int = 4,
        min_candidates: int = 20,
        max_candidates: int = 40,
        history_length: int = 10,
        feature_noise: float = 0.2,
        logit_scale: float = 2.0,
        item_bias_scale: float = 0.3,
        popularity_weight: float = 0.3,
        price_median: float = 20.0,
        price_spread: float = 0.8,
        candidate_popularity: float = 0.5,
        novelty_weight: float = 0.3,
        novelty_decay: float = 0.99,
        purchase_intercept: float | None = None,
        price_sensitivity: float | None = None,
        devices: bool = True,
        device_probabilities: tuple[float, float, float] = (0.55, 0.05, 0.4),
        device_attention: tuple[float, float, float] = (-0.3, 0.0, 0.0),
        steps_per_day: int = STEPS_PER_DAY,
        steps_per_year: int = 365 * STEPS_PER_DAY,
        n_locations: int = 5,
        travel_probability: float = 0.1,
        context_shift_scale: float = 0.5,
        trend_amplitude: float = 0.5,
        shock_every: int = STEPS_PER_DAY,
        shock_items: int = 5,
        shock_size: float = 1.5,
        shock_decay: float = 0.9,
        shock_duration: int = 2 * STEPS_PER_DAY,
        exposure_fatigue: float = 0.05,
        click_fatigue: float = 0.5,
        fatigue_decay: float = 0.95,
        fatigue_weight: float = 0.2,
        choice_model: str = "mnl",
        examination: ArrayLike | None = None,
        no_click_logit: float = 0.0,
        reward: str | Mapping[str, float] = DEFAULT_REWARD,
        watch_time_spread: float = DEFAULT_SPREAD,
    ) -> None:
        super().__init__(
            build_world(
                type(self).__name__,
                catalogue={
                    "n_items": n_items,
                    "n_latent": n_latent,
                    "bias_scale": item_bias_scale,
                    "initial_items": initial_items,
                    "items_per_step": items_per_step,
                    "item_lifetime": item_lifetime,
                    "n_genres": n_genres,
                    "micro_genres": micro_genres,
                    "popularity_weight": popularity_weight,
                    "price_median": price_median,
                    "price_spread": price_spread,
                    "candidate_popularity": candidate_popularity,
                },
                users={
                    "n_users": n_users,
                    "history_length": history_length,
                    "feature_noise": feature_noise,
                    "initial_users": initial_users,
                    "users_per_step": users_per_step,
                    "n_genres": n_genres,
                    "n_segments": n_segments,
                },
                context={
                    "devices": devices,
                    "device_probabilities": device_probabilities,
                    "device_attention": device_attention,
                    "steps_per_day": steps_per_day,
                    "steps_per_year": steps_per_year,
                    "day_of_week": steps_per_day > 0,
                    "n_locations": n_locations,
                    "travel_probability": travel_probability,
                    "shift_scale": context_shift_scale,
                },
                fatigue={
                    "exposure_fatigue": exposure_fatigue,
                    "click_fatigue": click_fatigue,
                    "fatigue_decay": fatigue_decay,
                    "fatigue_weight": fatigue_weight,
                },
                trends={
                    "trend_amplitude": trend_amplitude,
                    "trend_period": steps_per_year,
                    "shock_every": shock_every,
                    "shock_items": shock_items,
                    "shock_size": shock_size,
                    "shock_decay": shock_decay,
                    "shock_duration": shock_duration,
                    "novelty_weight": novelty_weight,
                    "novelty_decay": novelty_decay,
                },
                choice={
                    "choice_model": choice_model,
                    "slate_size": slate_size,
                    "examination": examination,
                    "no_click_logit": no_click_logit,
                },
                reward={
                    "reward": reward,
                    "watch_time_spread": watch_time_spread,
                    "purchase_intercept": purchase_intercept,
                    "price_sensitivity": price_sensitivity,
                    "purchase_defaults": PURCHASE_DEFAULTS,
                },
                requests={
                    "n_requests": n_requests,
                    "min_candidates": min_candidates,
                    "max_candidates": max_candidates,
                    "logit_scale": logit_scale,
                },
            )
        )
