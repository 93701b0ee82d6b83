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


#: (English pattern, Japanese template): the grader's fixed phrases, for plain strings.
JA_PATTERNS: list[tuple[str, str]] = [
    (r"ok", "正解"),
    (r"not attempted", "未着手"),
    (r"missing: no answer recorded", "未回答: 答えが記録されていません"),
    (r"missing: (.+) not defined \(cell (\d+): (.+)\)",
     r"未回答: \1 が定義されていません（セル \2: \3）"),
    (r"missing: (.+) not defined", r"未回答: \1 が定義されていません"),
    (r"not reached: (.+)", r"未実行: 実行がその前で止められました（\1）"),
    (r"not graded: (.+)", r"採点できません: \1"),
    (r"flagged: (.+)", r"要確認: \1"),
    (r"needs review: (.+)", r"要確認: \1"),
    (r"error: (.+)", r"エラー: \1"),
    (r"completed", "最後まで実行されました"),
    (r"stopped: (.+)", r"停止: \1"),
]


def local(text: str, lang: str) -> str:
    """``text`` in ``lang`` (``"en"`` or ``"ja"``)."""
    if lang != "ja":
        return str(text)
    if isinstance(text, Text):
        return text.ja
    for pattern, template in JA_PATTERNS:
        match = re.fullmatch(pattern, str(text), flags=re.DOTALL)
        if match:
            return match.expand(template)
    return str(text)
