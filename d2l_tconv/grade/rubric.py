"""The rubric of the free-text ("why") answers. INSTRUCTOR MATERIAL, never in student files.

The grader prints it above the students' answers in ``free_text_for_marking.md``;
``tools/build_exercises.py`` also writes it to ``exercises/instructor/rubric.md``.
"""

from __future__ import annotations

from ..exercise_checks import FREE_TEXT

#: Criteria per question: (points, English, Japanese).
RUBRIC: dict[str, list[tuple[int, str, str]]] = {
    "1": [
        (1, "Says that the values differ: Z has X's shape only.",
         "値は異なり、Z は X と形状が同じだけだと述べている。"),
        (1, "Explains Z = WᵀW x: the transposed convolution is the transpose (adjoint) of the "
            "convolution, not its inverse.",
         "Z = WᵀW x であること、転置畳み込みは畳み込みの転置（随伴）であって逆演算ではないこと"
         "を説明している。"),
        (1, "Explains the loss of information: W is 4 × 9 (9 numbers to 4), WᵀW has rank 4 < 9, "
            "so it is not the identity and X cannot be recovered from Y.",
         "情報の損失を説明している: W は 4 × 9（9 個の数を 4 個へ）、WᵀW の階数は 4 < 9 なので"
         "単位行列ではなく、Y から X は復元できない。"),
        (1, "Says when Z = X would hold (WᵀW = I, a length-preserving convolution such as a "
            "one-entry kernel with enough padding), or where the pseudo-inverse does and does not "
            "recover X.",
         "Z = X となる条件（WᵀW = I、長さを保つ畳み込み。例: 要素が 1 つだけのカーネルと十分な"
         "パディング）、または擬似逆行列で X が復元できる場合とできない場合を述べている。"),
    ],
    "2": [
        (1, "Not efficient with the dense W: memory grows like n⁴; quotes the size for a "
            "224 × 224 image and a 3 × 3 kernel (about 9.9 GB against 36 bytes of kernel).",
         "密な W では効率的でない: メモリは n⁴ に比例して増える。224 × 224 の画像と 3 × 3 の"
         "カーネルでの大きさ（カーネル 36 バイトに対して約 9.9 GB）を挙げている。"),
        (1, "Time: almost all multiplications are by zeros; O(n⁴) against O(n² k²); supported by "
            "the student's own measurements.",
         "時間: 乗算のほとんどが 0 との積で、O(n⁴) 対 O(n² k²)。自分の測定結果で裏付けている。"),
        (1, "A sparse W removes the zeros but pays for indices and irregular memory access.",
         "疎な W なら 0 はなくなるが、インデックスと不規則なメモリアクセスの分だけ損をする。"),
        (1, "What works instead: im2col + GEMM (a dense product of the right size, at the cost "
            "of copying pixels), or what libraries do (direct, implicit GEMM, Winograd, FFT); W "
            "is a tool for understanding (transposed convolution = multiplication by Wᵀ).",
         "代わりにうまくいく方法: im2col と GEMM（画素のコピーと引き換えに、ちょうどよい大きさの"
         "密な積）や、ライブラリの方法（直接法、implicit GEMM、Winograd、FFT）。W は理解の"
         "ための道具（転置畳み込み = Wᵀ を掛けること）。"),
    ],
}


def max_points(question: str) -> int:
    return sum(points for points, _, _ in RUBRIC[question])


def rubric_markdown() -> str:
    """The rubric as Markdown, in English and Japanese."""
    lines = [
        "# Rubric for the free-text answers / 記述式解答の採点基準",
        "",
        "INSTRUCTOR MATERIAL: do not hand out. Generated from `d2l_tconv/grade/rubric.py` by",
        "`python tools/build_exercises.py`; the grader also prints it in",
        "`free_text_for_marking.md` above the students' answers.",
        "",
        "教員用資料: 学生に配布しないでください。",
        "",
    ]
    for question in FREE_TEXT:
        lines += [f"## Question {question.id} / 問 {question.id}: {question.title['en']} / "
                  f"{question.title['ja']} ({max_points(question.id)} points / 点)", ""]
        for points, en, ja in RUBRIC[question.id]:
            lines += [f"- **{points}** — {en}", f"  / {ja}"]
        lines.append("")
    return "\n".join(lines)
