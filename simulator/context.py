"""Context signals of a request (device, time of day, season): observed by the policy and
shifting the user's taste."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError, check_integer, check_real
from simulator.catalogue import MAX_SCALE, latent_scale

DEVICES = ("phone", "tv", "desktop")
"""The devices a request comes from, in the order of the one-hot signal columns."""


class Context:
    """Signals per request, shape (n_requests, n_signals), and the taste shift they cause.

    With ``devices=False, steps_per_day=0, steps_per_year=0`` there are no signals (the
    latent-factor world). Otherwise the signals are, in order:

    - ``devices``: a one-hot of the device, drawn per request with probabilities
      ``device_probabilities`` (phone, tv, desktop);
    - ``steps_per_day > 0``: ``sin, cos`` of ``2 pi t / steps_per_day`` (time of day at step
      ``t``);
    - ``steps_per_year > 0``: ``sin, cos`` of ``2 pi t / steps_per_year`` (season).

    Each world draws a shift matrix ``M ~ N(0, (shift_scale * s)**2)``, shape (n_signals,
    n_latent), ``s`` the taste scale; a request with signals ``c`` has taste ``theta_u + c M``.
    So a device adds a fixed taste offset, and time of day and season move it around an
    ellipse over a day and a year.

    Parameters
    ----------
    n_latent : int
    devices : bool
    device_probabilities : tuple of 3 floats
    steps_per_day, steps_per_year : int
    shift_scale : float
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
        self.n_signals = (
            len(DEVICES) * self.devices
            + 2 * (self.steps_per_day > 0)
            + 2 * (self.steps_per_year > 0)
        )
        self.shifts_: NDArray[np.float64] = np.zeros((0, self.n_signals, self.n_latent))

    def signal_names(self) -> list[str]:
        """Names of the signal columns, in order."""
        names = [f"device_{d}" for d in DEVICES] if self.devices else []
        if self.steps_per_day:
            names += ["day_sin", "day_cos"]
        if self.steps_per_year:
            names += ["year_sin", "year_cos"]
        return names

    def reset(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Draw each world's shift matrix (nothing without signals)."""
        shape = (n_worlds, self.n_signals, self.n_latent)
        scale = self.shift_scale * latent_scale(self.n_latent)
        self.shifts_ = rng.normal(0.0, scale, shape) if self.n_signals else np.zeros(shape)

    def draw(self, rng: np.random.Generator, n_requests: int, time: int) -> NDArray[np.float64]:
        """The signals of ``n_requests`` requests at step ``time``, shape (n_requests,
        n_signals); draws only for the device."""
        columns = []
        if self.devices:
            device = rng.choice(len(DEVICES), size=n_requests, p=self.device_probabilities)
            columns.append(np.eye(len(DEVICES))[device])
        for period in (self.steps_per_day, self.steps_per_year):
            if period:
                angle = 2.0 * np.pi * (time % period) / period
                columns.append(np.tile([np.sin(angle), np.cos(angle)], (n_requests, 1)))
        if not columns:
            return np.zeros((n_requests, 0))
        return np.concatenate(columns, axis=1)

    def taste_shift(
        self, signals: NDArray[np.float64], worlds: NDArray[np.int64]
    ) -> NDArray[np.float64] | None:
        """``c M`` per request, shape (n_requests, n_latent); None without signals."""
        if not self.n_signals:
            return None
        return np.einsum("ns,nsd->nd", signals, self.shifts_[worlds])


def _bad_probabilities(owner: str, value: object) -> InputValueError:
    return InputValueError(
        f"The 'device_probabilities' parameter of {owner} must be {len(DEVICES)} probabilities "
        f"({', '.join(DEVICES)}) summing to 1; got {value!r}."
    )
