"""The ``bandits/StreamingService-v0`` preset: a video service with genres, context signals,
drifting tastes, fatigue, boredom and churn, arriving and retiring titles, new users, a cascade
and watch time."""

from __future__ import annotations

from numpy.typing import ArrayLike

from simulator.env import SlateEnv
from simulator.presets import build_world
from simulator.reward import DEFAULT_SPREAD

STEPS_PER_DAY = 48
"""Default steps per simulated day: a step is half an hour."""


class StreamingServiceEnv(SlateEnv):
    """A streaming service: the latent-factor world of :class:`LatentFactorEnv` plus

    - context signals in the observation (after the user's features): device one-hot
      (phone, tv, desktop), time of day and season as ``sin, cos`` of their phase; a
      request's taste is ``theta_u + c M`` with ``M`` drawn per world at reset
      (``context_shift_scale`` times the taste scale), see :class:`simulator.context.Context`;
    - drift: every ``drift_every`` steps each taste moves to ``sqrt(1 - drift**2) theta +
      drift * fresh`` (same distribution, correlation ``sqrt(1 - drift**2)``);
    - cold start: ``initial_items`` titles from the start, ``items_per_step`` new ones each
      step, each retiring ``item_lifetime`` steps after it arrives (the windows are
      :meth:`item_table`'s ``valid_from``/``valid_until``); ``initial_users`` users at first
      and ``users_per_step`` new ones (with no history) each step; arrivals stop when
      ``n_items`` titles and ``n_users`` users have come (steps 750 and 300 by default);
    - genres: ``n_genres`` genres of ``micro_genres`` micro-genres each (the genre one-hot
      follows the factors in the item features); users' tastes are mixtures over genres, with
      a segment and noisy genre affinities in their features (:class:`simulator.users.Users`);
      the weekday one-hot joins the context signals; each genre has a seasonal trend of
      amplitude ``trend_amplitude`` over a year (:class:`simulator.trends.Trends`);
    - fatigue, boredom and churn (:class:`simulator.fatigue.Fatigue`): each title shown adds
      ``exposure_fatigue`` and each click ``click_fatigue`` to the user's fatigue with its
      genre (forgetting ``fatigue_decay`` per step, logit penalty ``fatigue_weight`` per
      unit); at ``boredom_threshold`` the user is bored with the genre for
      ``boredom_duration`` steps (logit ``-boredom_penalty``) and leaves with probability
      ``churn_probability`` for a geometric absence of mean ``mean_absence`` steps; clicks
      pull tastes toward the clicked titles by ``click_drift``;
    - repeated titles: each user remembers the last ``repeat_memory`` titles shown to them;
      a title shown ``s`` steps ago has its logit lowered by ``(repeat_exposure +
      repeat_click [clicked]) repeat_decay**s`` per showing remembered (by default a title
      just watched loses 1.2 at the next step, 0.12 ten steps later; one shown and skipped
      0.2), so the best slate avoids what the user just saw;
    - title lengths (log-normal, median ``length_median`` minutes, spread
      ``length_spread``; ``log(length / length_median)`` is the last item feature): a
      phone request lowers each title's logit by ``phone_short_preference`` and the morning
      (peak at 8:00) by up to ``morning_short_preference`` per unit of log length above the
      median (short titles gain), see :class:`simulator.context.Context`;
    - novelty: a title released at step ``r`` has the logit boost ``novelty_weight *
      novelty_decay**(t - r)`` (half-life about 34 steps, 17 hours, by default);
    - by default a cascade (scan down, stop at the first click; ``"examined"`` signal) and
      watch time as the reward.

    Parameters are those of :class:`LatentFactorEnv` (with other defaults) and the ones above;
    ``steps_per_day``/``steps_per_year`` of 0 drop the time-of-day/season signals (and need
    ``day_of_week=False``, ``morning_short_preference=0``/``trend_amplitude=0``) and
    ``devices=False`` the device (and needs ``phone_short_preference=0``); ``length_median=0``
    drops the lengths (and needs both short preferences 0).
    """

    def __init__(
        self,
        *,
        n_users: int = 5000,
        initial_users: int = 2000,
        users_per_step: int = 10,
        n_items: int = 2000,
        initial_items: int = 500,
        items_per_step: int = 2,
        item_lifetime: int = 4 * STEPS_PER_DAY,
        n_latent: int = 8,
        n_requests: int = 64,
        slate_size: int = 5,
        min_candidates: int = 30,
        max_candidates: int = 50,
        history_length: int = 10,
        feature_noise: float = 0.2,
        logit_scale: float = 2.0,
        item_bias_scale: float = 0.5,
        devices: bool = True,
        device_probabilities: tuple[float, float, float] = (0.6, 0.25, 0.15),
        steps_per_day: int = STEPS_PER_DAY,
        steps_per_year: int = 365 * STEPS_PER_DAY,
        context_shift_scale: float = 0.5,
        drift: float = 0.05,
        drift_every: int = STEPS_PER_DAY,
        n_genres: int = 12,
        micro_genres: int = 4,
        n_segments: int = 5,
        day_of_week: bool = True,
        trend_amplitude: float = 0.3,
        length_median: float = 45.0,
        length_spread: float = 0.6,
        phone_short_preference: float = 0.5,
        morning_short_preference: float = 0.3,
        novelty_weight: float = 0.5,
        novelty_decay: float = 0.98,
        exposure_fatigue: float = 0.1,
        click_fatigue: float = 1.0,
        fatigue_decay: float = 0.9,
        fatigue_weight: float = 0.3,
        boredom_threshold: float = 3.0,
        boredom_duration: int = STEPS_PER_DAY,
        boredom_penalty: float = 2.0,
        churn_probability: float = 0.3,
        mean_absence: float = 2 * STEPS_PER_DAY,
        repeat_exposure: float = 0.2,
        repeat_click: float = 1.0,
        repeat_decay: float = 0.8,
        repeat_memory: int = 10,
        click_drift: float = 0.02,
        choice_model: str = "cascade",
        examination: ArrayLike | None = None,
        no_click_logit: float = 0.0,
        reward: str = "watch_time",
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
                    "length_median": length_median,
                    "length_spread": length_spread,
                },
                users={
                    "n_users": n_users,
                    "history_length": history_length,
                    "feature_noise": feature_noise,
                    "initial_users": initial_users,
                    "users_per_step": users_per_step,
                    "drift": drift,
                    "drift_every": drift_every,
                    "n_genres": n_genres,
                    "n_segments": n_segments,
                    "click_drift": click_drift,
                },
                context={
                    "devices": devices,
                    "device_probabilities": device_probabilities,
                    "steps_per_day": steps_per_day,
                    "steps_per_year": steps_per_year,
                    "shift_scale": context_shift_scale,
                    "day_of_week": day_of_week,
                    "phone_short_preference": phone_short_preference,
                    "morning_short_preference": morning_short_preference,
                },
                fatigue={
                    "exposure_fatigue": exposure_fatigue,
                    "click_fatigue": click_fatigue,
                    "fatigue_decay": fatigue_decay,
                    "fatigue_weight": fatigue_weight,
                    "boredom_threshold": boredom_threshold,
                    "boredom_duration": boredom_duration,
                    "boredom_penalty": boredom_penalty,
                    "churn_probability": churn_probability,
                    "mean_absence": mean_absence,
                    "repeat_exposure": repeat_exposure,
                    "repeat_click": repeat_click,
                    "repeat_decay": repeat_decay,
                    "repeat_memory": repeat_memory,
                },
                trends={
                    "trend_amplitude": trend_amplitude,
                    "trend_period": steps_per_year,
                    "novelty_weight": novelty_weight,
                    "novelty_decay": novelty_decay,
                },
                choice={
                    "choice_model": choice_model,
                    "slate_size": slate_size,
                    "examination": examination,
                    "no_click_logit": no_click_logit,
                },
                reward={"reward": reward, "watch_time_spread": watch_time_spread},
                requests={
                    "n_requests": n_requests,
                    "min_candidates": min_candidates,
                    "max_candidates": max_candidates,
                    "logit_scale": logit_scale,
                },
            )
        )
