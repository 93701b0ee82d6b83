"""The rubric: the free-text ("why") answers, and the partial-credit policy of the
automatic parts. INSTRUCTOR MATERIAL, never in student files.

The grader prints the free-text rubric above the students' answers in
``free_text_for_marking.md``; ``tools/build_exercises.py`` writes all of it to
``exercises/instructor/rubric.md``. The policy is what :mod:`.hidden` does; the tests in
``tests/grader/test_grade_fairness.py`` hold the code to it.
"""

from __future__ import annotations

from d2l_tconv.exercise_checks import FREE_TEXT

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
            "224 × 224 image and a 3 × 3 kernel: 9,891,495,936 bytes against 36 bytes of "
            "kernel. Accept both \"≈ 9.9 GB\" (10⁹ bytes) and \"9.21 GiB\" (2³⁰ bytes): the "
            "same quantity.",
         "密な W では効率的でない: メモリは n⁴ に比例して増える。224 × 224 の画像と 3 × 3 の"
         "カーネルでの大きさ（カーネル 36 バイトに対して 9,891,495,936 バイト）を挙げている。"
         "「約 9.9 GB」（10⁹ バイト単位）と「9.21 GiB」（2³⁰ バイト単位）はどちらも同じ量なので、"
         "どちらも正解とする。"),
        (1, "Time: almost all multiplications are by zeros; O(n⁴) against O(n² k²); supported by "
            "the student's own measurements.",
         "時間: 乗算のほとんどが 0 との積で、O(n⁴) 対 O(n² k²)。自分の測定結果で裏付けている。"),
        (1, "A sparse W removes the zeros but pays for indices and irregular memory access.",
         "疎な W なら 0 はなくなるが、インデックスと不規則なメモリアクセスの分だけ損をする。"),
        (1, "What works instead: im2col + GEMM (a dense product of the right size, at the cost "
            "of copying pixels), or what libraries do (direct, implicit GEMM, Winograd, FFT); W "
            "is a tool for understanding (transposed convolution = multiplication by Wᵀ).",
         "代わりにうまくいく方法: im2col と GEMM（ピクセルのコピーと引き換えに、ちょうどよい大きさの"
         "密な積）や、ライブラリの方法（直接法、implicit GEMM、Winograd、FFT）。W は理解の"
         "ための道具（転置畳み込み = Wᵀ を掛けること）。"),
    ],
}


#: The partial-credit policy of the automatic parts, applied the same way to every part
#: and every submission (English, Japanese).
POLICY: list[tuple[str, str]] = [
    ("**An answer is what the student checked.** A part's value is its value when that part's "
     "`check(...)` cell ran; if that cell never ran (or failed), its value at the end of the "
     "notebook. Exploring with the same names later costs nothing.",
     "**答えは学生が確かめた値。** 各小問の値は、その小問の `check(...)` のセルを実行したときの"
     "値とする。そのセルが実行されなかった（または失敗した）場合は、ノートブックの最後での値と"
     "する。後のセルで同じ名前を使って試しても損はしない。"),
    ("**Every reasonable form of a right value counts**, in the public check and in the "
     "grader alike (one acceptance code, `d2l_tconv/exercise_checks.py`): tensors of any real "
     "dtype, NumPy arrays and nested lists for matrices; Python, NumPy and 0-d tensor integers "
     "(and whole floats) and booleans; tuples, lists, `torch.Size`, namedtuples, 1-D tensors "
     "and arrays for pairs and lists; any real sequence for timings. Values are compared with "
     "PyTorch's results at rtol = atol = 1e-4.",
     "**正しい値はどの妥当な形でも正解とする。** 公開チェックと採点プログラムで同じ判定コード"
     "（`d2l_tconv/exercise_checks.py`）を使う。行列は任意の実数 dtype のテンソル、NumPy の"
     "配列、入れ子のリスト。整数（と整数値の float）と真偽値は Python、NumPy、0 次元テンソル。"
     "組やリストはタプル、リスト、`torch.Size`、namedtuple、1 次元のテンソルや配列。時間は"
     "任意の実数の列。値は PyTorch の結果と rtol = atol = 1e-4 で比べる。"),
    ("**Value parts score per value.** 1a `Z` 1; 1b `WtW` 1; 1c `rank_WtW` 1 and "
     "`WtW_is_identity` 1; 1e the four values together 2 (they only work together); 2b "
     "`bytes_dense_224` 1 and `bytes_kernel_224` 1; 2d `dense_bytes` 1, and `dense_ms` with "
     "`conv_ms` 1 (plausible measurements: the dense time grows with n and exceeds "
     "`F.conv2d`'s at the largest n).",
     "**値の小問は値ごとに採点する。** 1a `Z` 1 点。1b `WtW` 1 点。1c `rank_WtW` 1 点と "
     "`WtW_is_identity` 1 点。1e は 4 つの値をまとめて 2 点（組み合わせでしか意味がない）。"
     "2b `bytes_dense_224` 1 点と `bytes_kernel_224` 1 点。2d `dense_bytes` 1 点と、"
     "`dense_ms`・`conv_ms` で 1 点（測定値として妥当であること: 密な積の時間が n とともに"
     "増え、最大の n で `F.conv2d` より遅い）。"),
    ("**Function parts earn credit in proportion to the hidden cases passed** (points × "
     "passed / cases, to two decimals). 1d: a random kernel and input; a non-square kernel "
     "and input; a 1 × 1 kernel; a kernel as large as the input (one output). 2a: the same "
     "four kinds, each of the two counts half a case. 2c: a batch of 2 with several channels; "
     "N = 1, C = 1, C_out = 1 (where a `squeeze()` drops dimensions); a kernel as large as the "
     "input (1 × 1 output). The feedback names the cases that failed.",
     "**関数の小問は、正解した非公開の入力の割合で部分点を与える**（配点 × 正解数 / 入力数、"
     "小数第 2 位まで）。1d: ランダムなカーネルと入力、正方形でないカーネルと入力、1 × 1 の"
     "カーネル、入力と同じ大きさのカーネル（出力は 1 つ）。2a: 同じ 4 種類で、2 つの数それぞれが"
     "入力 1 つの半分。2c: 複数チャネルの 2 枚のバッチ、N = 1、C = 1、C_out = 1（`squeeze()` で"
     "次元が消える場合）、入力と同じ大きさのカーネル（出力は 1 × 1）。フィードバックには失敗した"
     "入力の種類を書く。"),
    ("**One mistake is not charged twice.** 2d judges the student's own W: `dense_bytes` "
     "earns the point when each value is 4 bytes × the rows of their W × n² columns, with "
     "rows (n + a)(n + b) of the same form for every n (the right (n − 2)², or an off-by-one "
     "such as (n − 1)² or (n − 2)(n − 1)), so a W of 1d with a wrong number of rows, or "
     "transposed, does not cost 2d again. A float64 W does "
     "(the part asks for float32), and the message says \"2x the bytes\". If 1d's W breaks "
     "the 2d cell itself (a transposed W makes `W @ x` fail), the grader measures 2d in the "
     "sandbox with the student's own W (its bytes as built, dtype and layout included, and "
     "the time of `Wᵀ @ x` for a transposed W) and scores that by the same rules; the status "
     "says \"measured by the grader\" and the feedback names the cause (the shape of W). "
     "A 2d cell that fails with a W of the right shape is not measured for the student. "
     "Nothing to restore by hand.",
     "**1 つの誤りで 2 度減点しない。** 2d は学生自身の W で判定する。`dense_bytes` の各値が "
     "4 バイト × 自分の W の行数 × n² 列で、行数がどの n でも同じ形 (n + a)(n + b)（正しい "
     "(n − 2)²、または (n − 1)² や (n − 2)(n − 1) のような 1 つずれた形）であれば点を与えるので、"
     "1d の W の行数が違っていても、"
     "転置していても、2d でもう一度減点することはない。float64 の W は減点する（小問は float32 "
     "を求めている）。メッセージは「2 倍のバイト数」と伝える。1d の W のせいで 2d のセル自体が"
     "失敗した場合（転置した W では `W @ x` が失敗する）、採点プログラムが学生自身の W を使って"
     "サンドボックスの中で 2d を測定し（作ったとおりの W のバイト数。dtype とレイアウトも含む。"
     "転置した W なら `Wᵀ @ x` の時間）、同じ基準で採点する。状態には「採点プログラムが測定」"
     "と書き、フィードバックには原因（W の形状）を書く。W の形状が正しいのに 2d のセルが失敗"
     "した場合は、学生に代わって測定しない。手で点を戻す必要はない。"),
    ("**Not attempted is 0**: a value still `None`, a function that still raises "
     "`NotImplementedError`.",
     "**未着手は 0 点**: `None` のままの値、まだ `NotImplementedError` を送出する関数。"),
    ("**Findings.** A rule violation of one part (PyTorch's convolution inside "
     "`my_kernel2matrix` or `conv_by_matmul`) gives 0 on that part only. An integrity finding "
     "(tampering with the checks, PyTorch or the results channel) holds the automatic points "
     "at 0 until your decision in `decisions.csv` (`accept` restores the would-be score, "
     "`zero` keeps 0). Heuristics (pass-like prints, paths, harmless modules, the package's "
     "figure helpers) are notes for you, never a penalty.",
     "**検出事項。** 1 つの小問の規則違反（`my_kernel2matrix` や `conv_by_matmul` の中での "
     "PyTorch の畳み込み）は、その小問だけ 0 点。公正さに関わる検出（チェック、PyTorch、結果の"
     "通り道の改変）は、`decisions.csv` で判断するまで自動採点を 0 点に保留する（`accept` で"
     "本来の点に戻し、`zero` で 0 点のままにする）。経験則による検出（合格のような表示、パス、"
     "無害なモジュール、パッケージの図の関数）は教員へのメモで、減点はしない。"),
]


def max_points(question: str) -> int:
    return sum(points for points, _, _ in RUBRIC[question])


def rubric_markdown() -> str:
    """The rubric as Markdown, in English and Japanese."""
    lines = [
        "# Rubric: automatic parts and free-text answers / 採点基準: 自動採点と記述式解答",
        "",
        "INSTRUCTOR MATERIAL: do not hand out. Generated from `d2l_tconv_grader/rubric.py` by",
        "`python tools/build_exercises.py`; the grader also prints it in",
        "`free_text_for_marking.md` above the students' answers.",
        "",
        "教員用資料: 学生に配布しないでください。",
        "",
        "## Automatic parts: partial credit / 自動採点の部分点",
        "",
    ]
    for en, ja in POLICY:
        lines += [f"- {en}", f"  / {ja}"]
    lines.append("")
    for question in FREE_TEXT:
        lines += [f"## Question {question.id} / 問 {question.id}: {question.title['en']} / "
                  f"{question.title['ja']} ({max_points(question.id)} points / 点)", ""]
        for points, en, ja in RUBRIC[question.id]:
            lines += [f"- **{points}** — {en}", f"  / {ja}"]
        lines.append("")
    return "\n".join(lines)
