"""Slot-by-slot slates: slate probabilities by hand, and the batch draw equal to the one-slot
draw of :func:`draw_slate`."""

from __future__ import annotations

import numpy as np

from policies.vw_slots import draw_slate, invert_cdfs, slate_probability


def test_slate_probability_is_the_product_of_its_slots():
    slots = np.array([[0.5, 0.25], [0.1, 0.0]])
    np.testing.assert_allclose(slate_probability(slots), [0.125, 0.0], rtol=1e-15)
    one = np.array([[0.1], [1 / 3]])
    np.testing.assert_array_equal(slate_probability(one), [0.1, 1 / 3])  # the factor itself


def test_invert_cdfs_draws_as_draw_slate_one_slot_at_a_time():
    rng = np.random.default_rng(0)
    pmfs = rng.random((500, 7)) * (rng.random((500, 7)) < 0.7)
    pmfs[:, 0] += 1e-3  # every row has mass
    pmfs[rng.random(500) < 0.3, 5:] = 0.0  # padding-like zero tails
    pmfs /= pmfs.sum(axis=1, keepdims=True)
    uniforms = rng.random(500)
    uniforms[:5] = np.nextafter(1.0, 0.0)  # u * total can round up to the total
    uniforms[5:10] = 0.0
    want = [draw_slate(lambda taken, pmf=pmf: pmf, np.array([u]))[0] for pmf, u in
            zip(pmfs, uniforms, strict=True)]  # fmt: skip
    np.testing.assert_array_equal(invert_cdfs(pmfs, uniforms), want)
    assert (pmfs[np.arange(500), invert_cdfs(pmfs, uniforms)] > 0).all()


def test_a_uniform_on_a_boundary_takes_the_next_candidate():
    """u * total equal to a cumulative sum belongs to the candidate after it (as
    ``searchsorted(..., side="right")``): [0.5, 0.5] at u = 0.5 gives candidate 1."""
    pmfs = np.array([[0.5, 0.5, 0.0], [0.25, 0.0, 0.75], [0.25, 0.0, 0.75]])
    uniforms = np.array([0.5, 0.25, 0.0])
    np.testing.assert_array_equal(invert_cdfs(pmfs, uniforms), [1, 2, 0])
