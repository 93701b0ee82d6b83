"""Texts in both languages of the feedback: English for the gradebook, Japanese alongside.

A :class:`Text` *is* its English string (so the gradebook, the report and every ``str``
operation see English) and carries its Japanese twin in ``.ja``. :func:`local` picks the
language of a student's feedback; a plain ``str`` (a text nobody translated) is looked up in
:data:`JA_PATTERNS`, the translations of the grader's fixed phrases.
"""

from __future__ import annotations

import re


class Text(str):
    """An English text with its Japanese translation in ``.ja``."""

    ja: str

    def __new__(cls, en: str, ja: str) -> Text:
        text = super().__new__(cls, en)
        text.ja = ja
        return text


#: (English pattern, Japanese template): the grader's fixed phrases, for plain strings. In a
#: template, ``{1}``, ``{2}``, ... are the groups, translated again (they may be phrases too).
JA_PATTERNS: list[tuple[str, str]] = [
    (r"ok", "正解"),
    (r"not attempted", "未着手"),
    (r"completed", "最後まで実行されました"),
    (r"missing: no answer recorded", "未回答: 答えが記録されていません"),
    (r"missing: (.+) not defined \(cell (\d+): (.+)\)",
     "未回答: {1} が定義されていません（セル {2}: {3}）"),
    (r"missing: (.+) not defined", "未回答: {1} が定義されていません"),
    (r"error: memory limit \(cell (\d+)\)", "エラー: メモリの上限（セル {1}）"),
    (r"not reached: (.+)", "未実行: 実行がその前で止められました（{1}）"),
    (r"not graded: (.+)", "採点できません: {1}"),
    (r"not run: (.+)", "実行していません: {1}"),
    (r"flagged: forbidden-op", "規則違反: forbidden-op（自分の実装を求める小問）"),
    (r"flagged: (.+)", "要確認: {1}"),
    (r"error: (.+)", "エラー: {1}"),
    (r"invalid answer: (.+)", "読み取れない答え: {1}"),
    (r"stopped: (.+)", "停止: {1}"),
    (r"sandbox (.+)", "サンドボックス: {1}"),
    (r"time limit of the submission", "提出物ごとの制限時間"),
    (r"cell (\d+) could not be interrupted", "セル {1} を中断できませんでした"),
    (r"part (\w+) could not be interrupted", "小問 {1} を中断できませんでした"),
    (r"killed by signal (-?\d+)", "シグナル {1} で停止しました"),
    (r"harness exited with code (\S+)(.*)", "実行環境がコード {1} で終了しました{2}"),
    (r"empty notebook \(no code\)", "空のノートブック（コードなし）"),
    (r"invalid JSON \((\w+)\)", "JSON として不正（{1}）"),
    (r"not a Jupyter notebook(.*)", "Jupyter のノートブックではありません{1}"),
    (r"too large \((.+)\)", "大きすぎます（{1}）"),
    (r"internal error \((\w+)\)", "採点プログラムの内部エラー（{1}）"),
    (r"notebook format (.+) is too old \(need 4\)",
     "ノートブックの形式 {1} が古すぎます（4 以上が必要）"),
]


def local(text: str, lang: str) -> str:
    """``text`` in ``lang`` (``"en"`` or ``"ja"``); a plain ``str`` without a pattern stays
    as it is."""
    if lang != "ja":
        return str(text)
    if isinstance(text, Text):
        return text.ja
    return _translate(str(text), depth=0)


def _translate(text: str, depth: int) -> str:
    if depth > 3:
        return text
    for pattern, template in JA_PATTERNS:
        match = re.fullmatch(pattern, text, flags=re.DOTALL)
        if match:
            return template.format(None, *(_translate(g, depth + 1) if g else ""
                                          for g in match.groups()))
    return text
