"""Showing untrusted text (DICOM headers, file names, typed names and comments) as plain text.

Owns `md_escape`: the one way to put text that came from outside the app (a DICOM StationName or
PatientName, an upload's file name, an operator's comment) inside a Streamlit element that renders
markdown (`st.markdown`, `st.caption`, `st.info/warning/error/success`, widget labels, `st.title`).
Those elements render CommonMark + GFM + Streamlit's extensions (`:red[...]` colours, `$...$`
LaTeX, links, images, tables), so a header holding `**bold** [link](http://x)` would show bold
text and a clickable link. Escaped, it is shown exactly as it is written.

The alternative, where the text stands alone, is an element that never renders markdown:
`st.text`, `st.code`, `st.dataframe` / `st.table` cells.

Rules (CommonMark 0.31 §2.4 "Backslash escapes" and §2.5 "Entity and numeric character
references"): every ASCII punctuation character is backslash-escaped, except `&`, `<`, `>`, which
become the entities `&amp;`, `&lt;`, `&gt;` (so no HTML tag, entity or autolink can form); a
leading space or tab becomes a numeric reference so that an indented line cannot turn into a code
block; line breaks become spaces (one-line values) or markdown hard breaks (`multiline=True`).
GFM autolink literals (`http://…`, `www.…`, `a@b.c`) are not stopped by escapes (remark-gfm finds
them in the parsed text), so an invisible U+2060 WORD JOINER is put before `://`, after `www` and
before `@`: the text looks the same but is not turned into a link (checked in chromium against
Streamlit 1.5x, tests/test_html_safety.py).
"""

from __future__ import annotations

import re
import string

# ASCII punctuation that CommonMark allows to be backslash-escaped; & < > are written as entities.
_BACKSLASH = frozenset(string.punctuation) - frozenset("&<>")
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LEADING_WS = re.compile(r"^[ \t]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# GFM autolink literals ("http://…", "www.…", "name@host.tld") are found by a search over the text
# AFTER escapes are resolved, so no escape stops them; an invisible WORD JOINER inside the trigger
# does (the search wants "://", "www." and "x@" contiguous).
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGER = re.compile(r"(?=://)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)


def _escape_line(line: str) -> str:
    line = _AUTOLINK_TRIGGER.sub(WORD_JOINER, line)
    out = []
    for ch in line:
        if ch in _ENTITY:
            out.append(_ENTITY[ch])
        elif ch in _BACKSLASH:
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = "".join(out)
    # Four leading spaces would make an indented code block; a character reference is not indentation.
    return _LEADING_WS.sub(lambda m: "".join("&#32;" if c == " " else "&#9;" for c in m.group(0)), escaped)


def md_escape(text: object, *, multiline: bool = False) -> str:
    """`text` escaped so that a markdown-rendering Streamlit element shows it literally.

    `None` gives "". Line breaks become single spaces unless `multiline`, where each line is kept
    and joined by a markdown hard line break ("  \\n"). See the module docstring for the rules.
    """
    if text is None:
        return ""
    lines = _NEWLINES.split(str(text))
    if multiline:
        return "  \n".join(_escape_line(line) for line in lines)
    return _escape_line(" ".join(lines))
