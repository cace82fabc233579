"""A run's unified diff, parsed (unidiff) and highlighted (Pygments) for the change request page.

Everything the page shows of a diff comes from here, escaped: Pygments
escapes what it highlights, and lines it is not given are escaped by hand.
Nothing from the diff reaches a template unescaped any other way.

Large diffs stay readable and cheap: a file with more than ``MAX_FILE_LINES``
lines is collapsed behind a link to its raw patch, and once ``MAX_TOTAL_LINES``
lines have been rendered the remaining files are collapsed too. Binary files
are listed as changed, with no lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound
from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

MAX_FILE_LINES = 2_000
MAX_TOTAL_LINES = 10_000
# Highlighting is the slow part; a minified bundle on one line would cost seconds.
MAX_HIGHLIGHT_LINE = 2_000

_FORMATTER = HtmlFormatter(nowrap=True)


@dataclass
class Line:
    kind: str
    """``add``, ``del``, ``ctx``, ``hunk`` (a hunk header) or ``note`` (no newline at end of file)."""
    old: int | None
    new: int | None
    html: SafeString
    comments: list[Any] = field(default_factory=list)

    @property
    def side(self) -> str:
        """Which version a comment on this line refers to: the old one only for removed lines."""
        return "old" if self.kind == "del" else "new"

    @property
    def number(self) -> int | None:
        return self.old if self.kind == "del" else self.new

    @property
    def commentable(self) -> bool:
        return self.kind in ("add", "del", "ctx")


@dataclass
class SplitRow:
    left: Line | None
    right: Line | None
    hunk: Line | None = None

    @property
    def comments(self) -> list[Any]:
        seen = (self.left.comments if self.left else []) + (self.right.comments if self.right and self.right is not self.left else [])
        return seen


@dataclass
class FileDiff:
    index: int
    path: str
    old_path: str
    status: str
    """``added``, ``deleted``, ``renamed`` or ``modified``."""
    binary: bool
    additions: int
    deletions: int
    patch: str
    lines: list[Line] = field(default_factory=list)
    collapsed: str = ""
    """Why the lines are not shown (too large), or empty when they are."""

    @property
    def anchor(self) -> str:
        return f"file-{self.index}"

    @property
    def line_count(self) -> int:
        return sum(1 for line in self.lines if line.kind != "hunk")

    def split_rows(self) -> list[SplitRow]:
        """Rows for the side-by-side view: removals beside the additions that replaced them."""
        rows: list[SplitRow] = []
        dels: list[Line] = []
        adds: list[Line] = []

        def flush() -> None:
            for i in range(max(len(dels), len(adds))):
                rows.append(SplitRow(dels[i] if i < len(dels) else None, adds[i] if i < len(adds) else None))
            dels.clear()
            adds.clear()

        for line in self.lines:
            if line.kind == "del":
                if adds:
                    flush()
                dels.append(line)
            elif line.kind == "add":
                adds.append(line)
            else:
                flush()
                if line.kind == "hunk":
                    rows.append(SplitRow(None, None, hunk=line))
                else:
                    rows.append(SplitRow(line, line))
        flush()
        return rows


@dataclass
class DiffView:
    files: list[FileDiff]
    error: str = ""
    """Set when the diff could not be parsed; the page then offers the raw patch."""

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)

    def file(self, path: str) -> FileDiff | None:
        return next((f for f in self.files if f.path == path), None)

    def attach(self, comments: Iterable[Any]) -> list[Any]:
        """Put each comment (with ``path``, ``side``, ``line``) under its line; return those that fit nowhere."""
        index = {(f.path, line.side, line.number): line for f in self.files for line in f.lines if line.commentable}
        leftover = []
        for comment in comments:
            line = index.get((comment.path, comment.side, comment.line))
            if line is None:
                leftover.append(comment)
            else:
                line.comments.append(comment)
        return leftover


def parse(diff: str, *, highlight_code: bool = True) -> DiffView:
    """The diff as files and lines, ready to render."""
    if not diff.strip():
        return DiffView([])
    try:
        patch = PatchSet(diff)
    except UnidiffParseError as exc:
        return DiffView([], error=f"This diff could not be parsed ({exc}); the raw patch is still available.")
    files = []
    budget = MAX_TOTAL_LINES
    for index, patched in enumerate(patch):
        file = _file(index, patched)
        size = sum(len(hunk) + 1 for hunk in patched)
        if file.binary:
            pass
        elif size > MAX_FILE_LINES:
            file.collapsed = f"This file's diff has {size:,} lines, more than the {MAX_FILE_LINES:,} shown on a page."
        elif size > budget:
            file.collapsed = "The diff is large: this file is not shown, to keep the page fast."
        else:
            budget -= size
            file.lines = _lines(patched, _lexer(file.path) if highlight_code else None)
        files.append(file)
    return DiffView(files)


def file_patch(diff: str, path: str) -> str | None:
    """The part of ``diff`` about ``path``, as a patch of its own; None when the diff does not touch it."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return None
    return next((str(f) for f in patch if f.path == path), None)


def changed_paths(diff: str) -> set[str]:
    try:
        return {f.path for f in PatchSet(diff)}
    except UnidiffParseError:
        return set()


# -- internals ---------------------------------------------------------------------------


def _file(index: int, patched: PatchedFile) -> FileDiff:
    if patched.is_added_file:
        status = "added"
    elif patched.is_removed_file:
        status = "deleted"
    elif patched.is_rename:
        status = "renamed"
    else:
        status = "modified"
    old_path = patched.source_file[2:] if patched.source_file.startswith("a/") else patched.source_file
    return FileDiff(
        index=index,
        path=patched.path,
        old_path=old_path,
        status=status,
        binary=bool(patched.is_binary_file),
        additions=patched.added,
        deletions=patched.removed,
        patch=str(patched),
    )


def _lexer(path: str) -> Lexer:
    options = {"stripnl": False, "stripall": False, "ensurenl": False}
    try:
        return get_lexer_for_filename(path, **options)
    except ClassNotFound:
        return TextLexer(**options)


def _lines(patched: PatchedFile, lexer: Lexer | None) -> list[Line]:
    out: list[Line] = []
    for hunk in patched:
        header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@ {hunk.section_header}"
        out.append(Line("hunk", None, None, escape(header.rstrip())))
        raw = [(line.line_type, line.source_line_no, line.target_line_no, line.value.rstrip("\r\n")) for line in hunk]
        old_html = _highlighted([v for t, _, _, v in raw if t in (" ", "-")], lexer)
        new_html = _highlighted([v for t, _, _, v in raw if t in (" ", "+")], lexer)
        old_i = new_i = 0
        for line_type, old, new, value in raw:
            if line_type == " ":
                out.append(Line("ctx", old, new, new_html[new_i]))
                old_i += 1
                new_i += 1
            elif line_type == "-":
                out.append(Line("del", old, None, old_html[old_i]))
                old_i += 1
            elif line_type == "+":
                out.append(Line("add", None, new, new_html[new_i]))
                new_i += 1
            else:
                out.append(Line("note", None, None, escape(value.strip())))
    return out


def _highlighted(lines: list[str], lexer: Lexer | None) -> list[SafeString]:
    """One safe HTML string per line; highlighted when a lexer is given and the lines are sane."""
    plain = [escape(line) for line in lines]
    if lexer is None or not lines or any(len(line) > MAX_HIGHLIGHT_LINE for line in lines):
        return plain
    html = highlight("\n".join(lines) + "\n", lexer, _FORMATTER).split("\n")
    # The formatter closes and reopens spans at each newline, so every line stands alone.
    if html and html[-1] == "":
        html.pop()
    if len(html) != len(lines):
        return plain  # a lexer that ate or added a line: fall back rather than misalign
    return [mark_safe(line) for line in html]  # noqa: S308 - Pygments escapes every token
