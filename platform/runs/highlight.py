"""Tool arguments and outputs as safe, highlighted HTML for the run page.

Everything returned here is escaped: Pygments escapes what it highlights and
the rest goes through ``escape``. Highlighting is skipped for long texts, where
it would cost more than it helps.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import DiffLexer, TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

MAX_HIGHLIGHT = 20_000  # characters
_FORMATTER = HtmlFormatter(nowrap=True)
_NUMBERED = re.compile(r"^\s*(\d+)\t(.*)$")
_BAD = re.compile(r"(\b(?:FAILED|FAIL|ERROR|Traceback)\b|\w*Error:|\b[1-9]\d* (?:failed|errors?)\b|exit code [1-9]\d*)")
_GOOD = re.compile(r"(\b[1-9]\d* passed\b|\bPASSED\b|\bOK\b|\[exit code 0\])")


@lru_cache(maxsize=64)
def _lexer_for(filename: str) -> Lexer:
    options = {"stripnl": False, "ensurenl": False}
    try:
        return get_lexer_for_filename(filename, **options)
    except ClassNotFound:
        return TextLexer(**options)


def code(text: str, lexer: Lexer) -> SafeString:
    if len(text) > MAX_HIGHLIGHT:
        return escape(text)
    return mark_safe(highlight(text, lexer, _FORMATTER).rstrip("\n"))  # noqa: S308 - Pygments escapes


_DIFF = DiffLexer(stripnl=False, ensurenl=False)
# A shell command in a handful of token kinds, with Pygments' class names: Pygments' own bash
# lexer costs 0.1 ms a command, and a run may show thousands of them.
_SHELL = re.compile(
    r"""(?P<c>(?:^|(?<=\s))\#.*)|(?P<s>'[^']*'?|"(?:\\.|[^"\\])*"?)|(?P<k>&&|\|\||[|;&]|[0-9]?>>?|<)"""
    r"""|(?P<o>(?:^|(?<=\s))--?[\w-]+=?)|(?P<w>\S+)|(?P<sp>\s+)"""
)


def shell(command: str) -> SafeString:
    out, first = [], True
    for match in _SHELL.finditer(command):
        kind, text = match.lastgroup, match.group()
        if kind == "w" and first:
            out.append(f'<span class="nb">{escape(text)}</span>')
        elif kind in ("c", "s", "k", "o"):
            out.append(f'<span class="{kind}">{escape(text)}</span>')
        else:
            out.append(escape(text))
        if kind == "w" or kind == "s":
            first = False
        elif kind == "k" and text in ("&&", "||", "|", ";", "&"):
            first = True  # the next word is a command again
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped


def source(text: str, path: str) -> SafeString:
    return code(text, _lexer_for(path.rsplit("/", 1)[-1] or "file.txt"))


def edit(old: str, new: str) -> SafeString:
    """An edit as a small unified diff: what the reader wants to see of it."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2)
    body = "\n".join(list(lines)[2:]) + "\n"  # the ---/+++ header says nothing here
    return code(body, _DIFF)


def file_view(text: str, path: str) -> SafeString:
    """``view_file`` output (``   12\\tcode`` lines): the code highlighted, the numbers in a gutter."""
    rows = text.split("\n")
    parsed = [_NUMBERED.match(row) for row in rows]
    numbered = [m for m in parsed if m]
    if not numbered or len(text) > MAX_HIGHLIGHT:
        return output(text)
    highlighted = source("\n".join(m.group(2) for m in numbered) + "\n", path).split("\n")
    if len(highlighted) < len(numbered):
        return output(text)
    out, i = [], 0
    for row, match in zip(rows, parsed, strict=True):
        if match:
            out.append(format_html('<span class="ln">{}</span>{}', match.group(1), mark_safe(highlighted[i])))  # noqa: S308
            i += 1
        else:
            out.append(format_html('<span class="note">{}</span>', row))
    return mark_safe("\n".join(out))  # noqa: S308 - every piece is escaped above


def output(text: str) -> SafeString:
    """Command output: escaped, with failing and passing lines marked."""
    out = []
    for line in escape(text).split("\n"):
        if _BAD.search(line):
            out.append(f'<span class="bad">{line}</span>')
        elif _GOOD.search(line):
            out.append(f'<span class="good">{line}</span>')
        else:
            out.append(line)
    return mark_safe("\n".join(out))  # noqa: S308 - escaped above


def arguments(name: str, args: dict[str, Any]) -> SafeString:
    """A tool call's arguments, shown the way a person reads that tool."""
    if "_raw" in args:
        return format_html('<pre class="args">{}</pre>', str(args["_raw"]))
    path = str(args.get("path", ""))
    if name == "bash" and "command" in args:
        return format_html('<pre class="args hl"><span class="prompt">$ </span>{}</pre>', shell(str(args["command"])))
    if name == "edit_file":
        return format_html(
            '<div class="args-path mono">{}</div><pre class="args hl">{}</pre>',
            path,
            edit(str(args.get("old_text", "")), str(args.get("new_text", ""))),
        )
    if name == "create_file":
        return format_html(
            '<div class="args-path mono">{}</div><details class="output"><summary>content</summary><pre class="args hl">{}</pre></details>',
            path,
            source(str(args.get("content", "")), path),
        )
    if name == "view_file":
        span = ""
        if args.get("start_line") or args.get("end_line"):
            span = f" lines {args.get('start_line') or 1}–{args.get('end_line') or 'end'}"
        return format_html('<div class="args-path mono">{}<span class="faint">{}</span></div>', path, span)
    if name == "submit":
        return format_html('<p class="args-text">{}</p>', str(args.get("summary", "")))
    if not args:
        return mark_safe("")
    return format_html('<pre class="args">{}</pre>', json.dumps(args, indent=2, ensure_ascii=False))


def result(name: str, args: dict[str, Any], text: str) -> SafeString:
    if name in ("view_file", "edit_file") and args.get("path"):  # both answer with numbered lines
        return file_view(text, str(args["path"]))
    return output(text)
