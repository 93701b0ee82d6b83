"""Plausibility of the timings a student reports for part 2d.

The rule lives in :mod:`d2l_tconv.exercise_checks` (:func:`timings_problem`), so that the
public ``check("2d", ...)`` and the hidden tests apply the same one; it is re-exported here.

The times depend on the student's machine, so they cannot be compared with expected values.
What holds on any machine is checked here, so that typed-in numbers (``[1, 1, 1, 1]``) do not
earn the point: for the sizes of ``SIZES_2D`` (8 to 64, a 3 × 3 kernel) the dense ``W`` grows
from 36 × 64 to 3844 × 4096 entries (about 60 MB), so

* the dense time at the largest ``n`` exceeds the one at the smallest ``n``;
* the dense times are not all equal;
* at the largest ``n`` the dense product is slower than ``F.conv2d`` (about 16 million
  multiply-adds against 35 thousand);
* every time lies between 1 ns and 60 s.

Whether the numbers were measured at all cannot be known from the numbers: that part of 2d is
in the hand-marked rubric (the student's answer must discuss them).
"""

from __future__ import annotations

from d2l_tconv.exercise_checks import MAX_MS, MIN_MS, timings_problem

__all__ = ["MAX_MS", "MIN_MS", "timings_problem"]
