"""Context signals of a request (device, time of day, day of week, season, location): observed
by the policy, shifting the user's taste and, through the device, their attention."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError, check_integer, check_real
from simulator.catalogue import MAX_SCALE, latent_scale

DEVICES = ("phone", "tv", "desktop")
"""The devices a request comes from, in the order of the one-hot signal columns."""

MORNING_PEAK_HOUR = 8.0
"""Hour of the day at which the morning preference for short items peaks."""


class Context:
    """Signals per request, shape (n_requests, n_signals), and the taste shift they cause.

    With ``devices=False, steps_per_day=0, steps_per_year=0, n_locations=0`` there are no
    signals (the latent-factor world). Otherwise the signals are, in order:

    - ``devices``: a one-hot of the device, drawn per request with probabilities
      ``device_probabilities`` (phone, tv, desktop);
    - ``steps_per_day > 0``: ``sin, cos`` of ``2 pi t / steps_per_day`` (time of day at step
      ``t``);
    - ``steps_per_year > 0``: ``sin, cos`` of ``2 pi t / steps_per_year`` (season);
    - ``day_of_week`` (needs ``steps_per_day > 0``): one-hot of the day ``(t //
      steps_per_day) % 7``;
    - ``n_locations > 0``: one-hot of the location: each user has a home location (uniform,
      drawn at reset); a request is made from home, or with probability ``travel_probability``
      from a uniformly drawn location.

    Each world draws a shift matrix ``M ~ N(0, (shift_scale * s)**2)``, shape (n_signals,
    n_latent), ``s`` the taste scale; a request with signals ``c`` has taste ``theta_u + c M``.
    So a device, a weekday or a location adds a fixed taste offset, and time of day and season
    move it around an ellipse over a day and a year. Attention: the device also adds
    ``device_attention[device]`` to every candidate's logit (e.g. a phone user in a hurry
    clicks less: a negative entry). Short items: with item lengths in the catalogue, a
    candidate's logit changes by ``-b(c, t) log(length_i / length_median)`` with ``b(c, t) =
    phone_short_preference [device is phone] + morning_short_preference morning(t)``,
    ``morning(t) = max(0, cos(2 pi (hour - 8) / 24))`` (1 at 8:00, 0 from 14:00 to 2:00):
    short items are favoured on phones and in the morning (:meth:`short_preference`).

    Parameters
    ----------
    n_latent : int
    devices : bool
    device_probabilities : tuple of 3 floats
    steps_per_day, steps_per_year : int
    shift_scale : float
    day_of_week : bool
    n_locations : int
    travel_probability : float
    device_attention : tuple of 3 floats
        Logit offset per device (phone, tv, desktop).
    phone_short_preference, morning_short_preference : float
        >= 0; need devices and a time of day respectively.
    owner : str

    Attributes
    ----------
    shifts_ : ndarray of float64, shape (n_worlds, n_signals, n_latent)
    """

    def __init__(
        self,
        *,
        n_latent: int,
        devices: bool = False,
        device_probabilities: tuple[float, float, float] = (0.6, 0.25, 0.15),
        steps_per_day: int = 0,
        steps_per_year: int = 0,
        shift_scale: float = 1.0,
        day_of_week: bool = False,
        n_locations: int = 0,
        travel_probability: float = 0.0,
        device_attention: tuple[float, float, float] = (0.0, 0.0, 0.0),
        phone_short_preference: float = 0.0,
        morning_short_preference: float = 0.0,
        owner: str = "Context",
    ) -> None:
        self.n_latent = check_integer(n_latent, "n_latent", owner, low=1)
        self.devices = bool(devices)
        if not isinstance(device_probabilities, tuple | list) or len(device_probabilities) != 3:
            raise _bad_probabilities(owner, device_probabilities)
        probabilities = np.array(
            [
                check_real(p, "device_probabilities", owner, low=0.0, high=1.0)
                for p in device_probabilities
            ]
        )
        if not np.isclose(probabilities.sum(), 1.0):
            raise _bad_probabilities(owner, device_probabilities)
        self.device_probabilities = probabilities
        self.steps_per_day = check_integer(steps_per_day, "steps_per_day", owner, low=0)
        self.steps_per_year = check_integer(steps_per_year, "steps_per_year", owner, low=0)
        self.shift_scale = check_real(shift_scale, "shift_scale", owner, low=0.0, high=MAX_SCALE)
        self.day_of_week = bool(day_of_week)
        if self.day_of_week and not self.steps_per_day:
            raise InputValueError(
                f"The 'day_of_week' parameter of {owner} needs days: set steps_per_day > 0; got "
                f"day_of_week=True with steps_per_day={steps_per_day!r}."
            )
        self.n_locations = check_integer(n_locations, "n_locations", owner, low=0)
        self.travel_probability = check_real(
            travel_probability, "travel_probability", owner, low=0.0, high=1.0
        )
        if not isinstance(device_attention, tuple | list) or len(device_attention) != 3:
            raise InputValueError(
                f"The 'device_attention' parameter of {owner} must be {len(DEVICES)} logit "
                f"offsets ({', '.join(DEVICES)}); got {device_attention!r}."
            )
        self.device_attention = np.array(
            [
                check_real(a, "device_attention", owner, low=-MAX_SCALE, high=MAX_SCALE)
                for a in device_attention
            ]
        )
        if self.device_attention.any() and not self.devices:
            raise InputValueError(
                f"The 'device_attention' parameter of {owner} needs devices=True; got "
                f"{device_attention!r} with devices=False."
            )
        self.phone_short_preference = check_real(
            phone_short_preference, "phone_short_preference", owner, low=0.0, high=MAX_SCALE
        )
        if self.phone_short_preference > 0 and not self.devices:
            raise InputValueError(
                f"The 'phone_short_preference' parameter of {owner} needs devices=True; got "
                f"{phone_short_preference!r} with devices=False."
            )
        self.morning_short_preference = check_real(
            morning_short_preference, "morning_short_preference", owner, low=0.0, high=MAX_SCALE
        )
        if self.morning_short_preference > 0 and not self.steps_per_day:
            raise InputValueError(
                f"The 'morning_short_preference' parameter of {owner} needs a time of day: set "
                f"steps_per_day > 0; got {morning_short_preference!r} with steps_per_day=0."
            )
        self.n_signals = (
            len(DEVICES) * self.devices
            + 2 * (self.steps_per_day > 0)
            + 2 * (self.steps_per_year > 0)
            + 7 * self.day_of_week
            + self.n_locations
        )
        self.homes_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.shifts_: NDArray[np.float64] = np.zeros((0, self.n_signals, self.n_latent))

    def signal_names(self) -> list[str]:
        """Names of the signal columns, in order."""
        names = [f"device_{d}" for d in DEVICES] if self.devices else []
        if self.steps_per_day:
            names += ["day_sin", "day_cos"]
        if self.steps_per_year:
            names += ["year_sin", "year_cos"]
        if self.day_of_week:
            names += [f"weekday_{d}" for d in range(7)]
        return names + [f"location_{k}" for k in range(self.n_locations)]

    def reset(self, rng: np.random.Generator, n_worlds: int, n_users: int = 0) -> None:
        """Draw each world's shift matrix (nothing without signals) and, with locations, the
        homes of ``n_users`` users per world."""
        shape = (n_worlds, self.n_signals, self.n_latent)
        scale = self.shift_scale * latent_scale(self.n_latent)
        self.shifts_ = rng.normal(0.0, scale, shape) if self.n_signals else np.zeros(shape)
        if self.n_locations:
            self.homes_ = rng.integers(0, self.n_locations, n_worlds * n_users)

    def draw(
        self, rng: np.random.Generator, users: NDArray[np.int64], time: int
    ) -> NDArray[np.float64]:
        """The signals of the requests of ``users`` (stacked rows), shape (n_requests,
        n_signals), at step ``time``; draws only for the device and the location."""
        n_requests = users.shape[0]
        columns = []
        if self.devices:
            device = rng.choice(len(DEVICES), size=n_requests, p=self.device_probabilities)
            columns.append(np.eye(len(DEVICES))[device])
        for period in (self.steps_per_day, self.steps_per_year):
            if period:
                angle = 2.0 * np.pi * (time % period) / period
                columns.append(np.tile([np.sin(angle), np.cos(angle)], (n_requests, 1)))
        if self.day_of_week:
            day = (time // self.steps_per_day) % 7
            columns.append(np.tile(np.eye(7)[day], (n_requests, 1)))
        if self.n_locations:
            travels = rng.random(n_requests) < self.travel_probability
            elsewhere = rng.integers(0, self.n_locations, n_requests)
            location = np.where(travels, elsewhere, self.homes_[users])
            columns.append(np.eye(self.n_locations)[location])
        if not columns:
            return np.zeros((n_requests, 0))
        return np.concatenate(columns, axis=1)

    def taste_shift(
        self, signals: NDArray[np.float64], worlds: NDArray[np.int64]
    ) -> NDArray[np.float64] | None:
        """``c M`` per request, shape (n_requests, n_latent); None without signals."""
        if not self.n_signals:
            return None
        # One world: its matrix broadcast to every request (the same products, no gather).
        shifts = self.shifts_[0] if self.shifts_.shape[0] == 1 else self.shifts_[worlds]
        return np.matmul(signals[:, None, :], shifts)[:, 0]

    @property
    def prefers_short(self) -> bool:
        """True if the context shifts attention toward short items."""
        return self.phone_short_preference > 0 or self.morning_short_preference > 0

    def short_preference(
        self, signals: NDArray[np.float64], time: int
    ) -> NDArray[np.float64] | None:
        """``b(c, t) = phone_short_preference [phone] + morning_short_preference
        morning(t)`` per request, shape (n_requests,); None without the preference. A
        candidate's logit changes by ``-b(c, t) log(length_i / length_median)``: items shorter
        than the median gain, longer ones lose, on phones and in the morning."""
        if not self.prefers_short:
            return None
        weight = np.zeros(signals.shape[0])
        if self.phone_short_preference:
            weight += self.phone_short_preference * signals[:, DEVICES.index("phone")]
        if self.morning_short_preference:
            weight += self.morning_short_preference * morning(time, self.steps_per_day)
        return weight

    def attention(self, signals: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The device's logit offset per request, shape (n_requests,); None if all zero."""
        if not self.device_attention.any():
            return None
        return signals[:, : len(DEVICES)] @ self.device_attention


def morning(time: int, steps_per_day: int) -> float:
    """How much step ``time`` is morning: ``max(0, cos(2 pi (h - MORNING_PEAK_HOUR) / 24))``
    with ``h = 24 (time mod steps_per_day) / steps_per_day`` the hour; 1 at 8:00, 0 from
    14:00 to 2:00."""
    hour = 24.0 * (time % steps_per_day) / steps_per_day
    return max(0.0, float(np.cos(2.0 * np.pi * (hour - MORNING_PEAK_HOUR) / 24.0)))


def _bad_probabilities(owner: str, value: object) -> InputValueError:
    return InputValueError(
        f"The 'device_probabilities' parameter of {owner} must be {len(DEVICES)} probabilities "
        f"({', '.join(DEVICES)}) summing to 1; got {value!r}."
    )
