"""Escaping for every format the grader writes: one place, used by every writer.

Everything a submission controls (its file name, its free text, the messages and exception
texts its code produced in the sandbox) is untrusted. Before it goes into a file it passes
through the function for that file's format:

* :func:`csv_cell` for gradebook.csv and the other CSV files (OWASP's formula-injection rule);
* :func:`md_inline` for one line of Markdown, e.g. a table cell or a list item;
* :func:`md_block` for multi-line text shown as text (a free-text answer), HTML never rendered;
* :func:`safe_name` for a submission's name (file names may hold control characters).
"""

from __future__ import annotations

import hashlib
import html
import re

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029/\\]")


def csv_cell(value: object) -> str:
    """``value`` as text that a spreadsheet shows as text: a leading ``'`` before ``=``, ``+``,
    ``-``, ``@``, tab or carriage return. Numbers are written as they are (``-1`` is data)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def md_inline(value: object, limit: int = 500) -> str:
    """``value`` as one line of Markdown text: control characters and line breaks become
    spaces, HTML is escaped (``<script>`` shows as text), ``|`` cannot end a table cell,
    and the text is cut to ``limit`` characters."""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return html.escape(text, quote=False).replace("|", "\\|")


def md_block(value: object, limit: int = 20_000) -> str:
    """``value`` as multi-line Markdown text shown as text: HTML escaped, control characters
    other than line breaks removed, every line indented into a quote (``> ``) so that it cannot
    start a heading, a table or a code fence of the surrounding document."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", " ", text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "\n".join("> " + html.escape(line, quote=False) for line in text.split("\n"))


#: Names of the grader's own files beside the submissions' (``details/_run.json`` holds the run's
#: facts): a submission of that name gets an alias, so that neither overwrites the other.
RESERVED_NAMES = frozenset({"_run"})


def safe_name(name: str) -> str:
    """A submission name safe in file names, CSV and Markdown: ``name`` itself if it has no
    control characters or path separators and is not one of :data:`RESERVED_NAMES`, else an
    alias with those replaced by ``_`` and a short hash of the original (so two names never
    share an alias). The caller lists the mapping (report.md)."""
    if (not _UNSAFE_NAME.search(name) and len(name) <= 200
            and name.lower() not in RESERVED_NAMES):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_UNSAFE_NAME.sub('_', name)[:150]}-{digest}"
