"""Parsing and highlighting diffs: escaped always, highlighted when sane, bounded when large."""

from __future__ import annotations

import re

from reviews import diffs

HOSTILE = """diff --git a/page.html b/page.html
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/page.html
@@ -0,0 +1,3 @@
+<script>alert(document.cookie)</script>
+<img src=x onerror="alert(1)">
+</td></tr></table><b>escaped?</b>
diff --git a/notes.txt b/notes.txt
index 2222222..3333333 100644
--- a/notes.txt
+++ b/notes.txt
@@ -1,2 +1,2 @@ <script>in the header</script>
 keep
-<script>old</script>
+plain & simple
"""

PYTHON = "\n".join(
    [
        "diff --git a/app.py b/app.py",
        "index 1111111..2222222 100644",
        "--- a/app.py",
        "+++ b/app.py",
        "@@ -1,4 +1,5 @@",
        " def greet(name):",
        '-    return "hi " + name',
        '+    """Say hello."""',
        '+    return f"hello {name}"',
        " ",  # an empty context line is one space
        " x = 1",
        "",
    ]
)

BINARY = """diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..56882f4
Binary files /dev/null and b/logo.png differ
"""


def all_html(view: diffs.DiffView) -> str:
    return "\n".join(str(line.html) for f in view.files for line in f.lines)


def test_hostile_content_is_escaped_in_every_line_and_header():
    view = diffs.parse(HOSTILE)
    html = all_html(view)
    assert "<script" not in html and "<img" not in html and "</td>" not in html and "<b>" not in html
    # Only our own markup (Pygments' spans) remains; what the file said shows as text.
    assert set(re.findall(r"</?([a-z]+)", html)) == {"span"}
    text = re.sub(r"<[^>]+>", "", html)
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in text
    assert "&lt;script&gt;in the header&lt;/script&gt;" in text and "plain &amp; simple" in text
    assert view.files[0].status == "added" and view.files[0].additions == 3


def test_code_is_highlighted_by_its_file_type_and_keeps_its_line_numbers():
    view = diffs.parse(PYTHON)
    (file,) = view.files
    assert [(line.kind, line.old, line.new) for line in file.lines] == [
        ("hunk", None, None),
        ("ctx", 1, 1),
        ("del", 2, None),
        ("add", None, 2),
        ("add", None, 3),
        ("ctx", 3, 4),
        ("ctx", 4, 5),
    ]
    assert '<span class="k">def</span>' in str(file.lines[1].html)
    # A docstring opened in this hunk is coloured as one, line by line.
    assert '<span class="sd">' in str(file.lines[3].html)
    assert (file.additions, file.deletions) == (2, 1)


def test_the_split_view_puts_a_removal_beside_its_replacement():
    (file,) = diffs.parse(PYTHON).files
    rows = file.split_rows()
    assert rows[0].hunk is not None
    assert (rows[1].left.old, rows[1].right.new) == (1, 1)
    assert (rows[2].left.kind, rows[2].right.kind) == ("del", "add")
    assert (rows[3].left, rows[3].right.kind) == (None, "add")
    assert (rows[4].left.old, rows[4].right.new) == (3, 4)


def test_binary_files_are_listed_without_lines():
    (file,) = diffs.parse(BINARY).files
    assert file.binary and file.lines == [] and file.path == "logo.png"


def test_a_large_file_is_collapsed_and_the_rest_still_shown():
    big = "".join(f"+line {i}\n" for i in range(diffs.MAX_FILE_LINES + 5))
    text = (
        "diff --git a/big.txt b/big.txt\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/big.txt\n"
        f"@@ -0,0 +1,{diffs.MAX_FILE_LINES + 5} @@\n{big}" + PYTHON
    )
    view = diffs.parse(text)
    assert view.files[0].collapsed and view.files[0].lines == []
    assert view.files[1].lines and not view.files[1].collapsed
    assert view.additions == diffs.MAX_FILE_LINES + 5 + 2


def test_comments_find_their_lines_and_the_rest_are_returned():
    class Note:
        def __init__(self, path: str, side: str, line: int) -> None:
            self.path, self.side, self.line = path, side, line

    view = diffs.parse(PYTHON)
    on_added, on_removed, on_context, nowhere = Note("app.py", "new", 3), Note("app.py", "old", 2), Note("app.py", "new", 5), Note("app.py", "new", 99)
    leftover = view.attach([on_added, on_removed, on_context, nowhere])
    lines = view.files[0].lines
    assert lines[4].comments == [on_added] and lines[2].comments == [on_removed] and lines[6].comments == [on_context]
    assert leftover == [nowhere]


def test_an_unparseable_diff_says_so():
    view = diffs.parse("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n garbage\n")
    assert view.error and view.files == []


def test_one_files_patch_can_be_cut_out():
    part = diffs.file_patch(HOSTILE, "notes.txt")
    assert part is not None and part.startswith("diff --git a/notes.txt") and "page.html" not in part
    assert diffs.file_patch(HOSTILE, "missing.txt") is None
