"""Plausibility of the timings a student reports for part 2d (grader side).

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

MIN_MS, MAX_MS = 1e-6, 60_000.0


def timings_problem(dense_ms: list[float], conv_ms: list[float]) -> tuple[str, str] | None:
    """Why the timings cannot be real measurements (English, Japanese), or ``None``.

    Args:
        dense_ms: times of ``W @ x`` in milliseconds, one per size of ``SIZES_2D``.
        conv_ms: times of ``F.conv2d`` on the same inputs, same length.
    """
    if not dense_ms or len(dense_ms) != len(conv_ms):
        return ("dense_ms and conv_ms must have one time per size.",
                "dense_ms と conv_ms にはサイズごとに 1 つずつ時間が必要です。")
    if any(not MIN_MS <= t <= MAX_MS for t in [*dense_ms, *conv_ms]):
        return ("a time outside 1 ns to 60 s is not a measurement of these operations.",
                "1 ns から 60 s の範囲外の時間は、これらの演算の測定値ではありません。")
    if len(set(dense_ms)) == 1 or dense_ms[-1] <= dense_ms[0]:
        return ("dense_ms does not grow with n: W has about n⁴ entries, so W @ x takes longer "
                "for larger n. Measure it with time_ms.",
                "dense_ms が n とともに増えていません。W の要素数は約 n⁴ なので、n が大きいほど "
                "W @ x は遅くなります。time_ms で測ってください。")
    if dense_ms[-1] <= conv_ms[-1]:
        return ("at the largest n, W @ x should be slower than F.conv2d (it does hundreds of "
                "times more work). Measure both with time_ms.",
                "最大の n では W @ x は F.conv2d より遅いはずです（計算量が数百倍）。"
                "両方を time_ms で測ってください。")
    return None
