"""Find each free-text ("why") answer in a notebook's markdown cells, forgivingly.

Students do not always write where the template expects. In order of preference, the answer
to question N is:

1. the text after the marker line ``<!-- d2l-tconv:answer N -->`` in its answer cell (a
   "Your answer / あなたの答え" heading above the marker is allowed), followed by the
   markdown cells after it up to the next heading of the notebook;
2. when the marker line was deleted: the markdown cells after the question's heading
   ("Why? (exercise N)" / 「なぜか（演習 N）」) up to the next heading.

The placeholder ("_Write your answer here ..._"), the "Your answer" heading and the marker
are stripped. The result is ``None`` only when neither the marker nor the heading was found,
and ``""`` when they were but hold no text.
"""

from __future__ import annotations

import re

from d2l_tconv.exercise_checks import FREE_TEXT

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*)$")
_MARKER = re.compile(r"<!--\s*d2l-tconv:answer\s+(\w+)\s*-->")
#: The template's placeholder: a line in italics that asks to write the answer.
#: (possibly quoted, as in the framed answer cells: ``> *Replace this line ...*``).
_PLACEHOLDER = re.compile(
    r"^\s*(>\s*)*[_*]+(?=[^_*]).*(answer here|write your|replace this line|書いてください|書きます|この文を消して)"
    r".*[_*]+\s*$", re.IGNORECASE)
#: A line of markup only (an HTML tag such as a frame's ``<div ...>`` or ``</div>``).
_TAG_ONLY = re.compile(r"^\s*</?[A-Za-z][^>]*>\s*$")
_LABEL_MARKUP = re.compile(r"[#*_>\s/|:：()（）\-–—✏️📝✍️]+")


def _is_answer_label(line: str) -> bool:
    """Whether ``line`` only labels the answer ("### Your answer / あなたの答え", bold or not)."""
    words = _LABEL_MARKUP.sub(" ", line).strip().lower()
    return bool(words) and not words.replace("your answer", "").replace("あなたの答え", "").strip()


def _question_heading(number: str) -> re.Pattern[str]:
    return re.compile(rf"(why|なぜ).*(exercise|演習)\s*{re.escape(number)}(?!\d)",
                      re.IGNORECASE)


def _first_heading(text: str) -> tuple[int, str] | None:
    """(level, title) of the first non-empty line of ``text`` if it is a heading."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    match = _HEADING.match(line)
    return (len(match.group(1)), match.group(2)) if match else None


def _ends_answer(text: str) -> bool:
    """Whether a markdown cell after an answer belongs to the notebook, not to the answer:
    an exercise heading (level 1-2), another question's heading, or an answer marker."""
    if _MARKER.search(text):
        return True
    heading = _first_heading(text)
    if heading is None or _is_answer_label(text.lstrip().splitlines()[0]):
        return False
    level, title = heading
    return level <= 2 or any(_question_heading(q.id).search(title) for q in FREE_TEXT)


def _clean(text: str) -> str:
    lines = [line for line in _MARKER.sub("", text).splitlines()
             if not (_PLACEHOLDER.match(line) or _TAG_ONLY.match(line)
                     or _is_answer_label(line))]
    return "\n".join(lines).strip()


def _following(markdown: list[str], start: int) -> list[str]:
    """The cells after ``start`` up to the next one that ends an answer."""
    texts = []
    for text in markdown[start + 1:]:
        if _ends_answer(text):
            break
        texts.append(text)
    return texts


def free_text_answers(markdown: list[str]) -> dict[str, str | None]:
    """Question id -> the student's answer (see the module's docstring), from the
    notebook's markdown cells in order."""
    answers: dict[str, str | None] = {}
    for question in FREE_TEXT:
        marker = re.compile(rf"<!--\s*d2l-tconv:answer\s+{re.escape(question.id)}\s*-->")
        marked = [i for i, text in enumerate(markdown) if marker.search(text)]
        if marked:
            texts = []
            for i in marked:
                texts += [markdown[i][marker.search(markdown[i]).end():],
                          *_following(markdown, i)]
        else:
            heading = _question_heading(question.id)
            found = [i for i, text in enumerate(markdown)
                     if (h := _first_heading(text)) and heading.search(h[1])]
            if not found:
                answers[question.id] = None
                continue
            texts = _following(markdown, found[-1])
        answers[question.id] = "\n\n".join(t for t in map(_clean, texts) if t)
    return answers
