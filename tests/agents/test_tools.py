"""Each tool, run through a real bubblewrap sandbox over a real git repository."""

from __future__ import annotations

import pytest

from agents.config import AgentConfig
from agents.outcomes import Submitted
from agents.tools import Toolbox, ToolError, workspace_path


@pytest.fixture
def tools(sandbox) -> Toolbox:
    return Toolbox(sandbox, AgentConfig(command_timeout=5, view_lines=3), test_command="python3 -m pytest -q")


def test_bash_runs_in_the_workspace_and_reports_the_exit_code(tools):
    chunks: list[str] = []

    seen = tools.call("bash", {"command": "pwd; ls; exit 3"}, on_output=chunks.append)

    assert seen.text.startswith("/workspace\n") and "calc.py" in seen.text
    assert seen.text.endswith("[exit code 3]") and seen.exit_code == 3 and seen.error
    assert "calc.py" in "".join(chunks)


def test_bash_output_that_is_not_utf8_is_still_text(tools):
    seen = tools.call("bash", {"command": r"printf 'ok \xff\xfe bytes\n'"})

    assert "ok" in seen.text and "bytes" in seen.text and "\ufffd" in seen.text


def test_a_command_past_its_timeout_is_killed_and_says_so(tools):
    seen = tools.call("bash", {"command": "sleep 30", "timeout": 1})

    assert "timed out" in seen.text and seen.error


def test_an_empty_command_is_an_error(tools):
    with pytest.raises(ToolError, match="empty"):
        tools.call("bash", {"command": "  "})


def test_view_shows_line_numbers_and_a_window(tools):
    seen = tools.call("view_file", {"path": "calc.py", "start_line": 2, "end_line": 3})

    assert seen.text == "     2\t    return a - b\n     3\t\n[lines 2-3 of 6]"


def test_view_caps_the_window_and_lists_directories(tools):
    window = tools.call("view_file", {"path": "/workspace/calc.py"})
    folder = tools.call("view_file", {"path": "."})

    assert window.text.endswith("[lines 1-3 of 6]")
    assert "calc.py" in folder.text and "is a directory" in folder.text


def test_view_of_a_missing_file_is_an_error(tools):
    with pytest.raises(ToolError, match="cannot read"):
        tools.call("view_file", {"path": "nope.py"})


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "/etc/passwd", "calc.py/../../../root", "/workspace/../tmp/x"]
)
def test_paths_outside_the_workspace_are_refused(tools, path):
    with pytest.raises(ToolError, match="outside the workspace"):
        tools.call("view_file", {"path": path})


def test_workspace_paths_are_normalised():
    assert workspace_path("./src/../calc.py") == "/workspace/calc.py"
    assert workspace_path("/workspace/a/b") == "/workspace/a/b"


def test_edit_replaces_the_unique_text_and_shows_the_result(tools, demo_repo):
    seen = tools.call(
        "edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}
    )

    assert "     2\t    return a + b" in seen.text
    assert (demo_repo / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")


def test_edit_with_missing_text_says_so_and_hints_at_whitespace(tools):
    with pytest.raises(ToolError, match="not found"):
        tools.call("edit_file", {"path": "calc.py", "old_text": "return a / b", "new_text": "x"})
    with pytest.raises(ToolError, match="different leading or trailing whitespace"):
        tools.call("edit_file", {"path": "calc.py", "old_text": "return a - b   ", "new_text": "x"})


def test_edit_of_ambiguous_text_names_the_lines(tools):
    with pytest.raises(ToolError, match=r"occurs 2 times in /workspace/calc.py \(lines 1, 5\)"):
        tools.call("edit_file", {"path": "calc.py", "old_text": "(a, b):", "new_text": "(x, y):"})


def test_an_edit_that_breaks_python_is_refused_and_the_file_kept(tools, demo_repo):
    before = (demo_repo / "calc.py").read_text()

    with pytest.raises(ToolError, match=r"(?s)would no longer parse.*SyntaxError.*line 2"):
        tools.call("edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return (a + b"})
    assert (demo_repo / "calc.py").read_text() == before


def test_a_file_already_broken_may_be_edited_on_the_way_to_a_fix(tools, sandbox, demo_repo):
    sandbox.write_file("/workspace/broken.py", b"def f(:\n    pass\n")

    tools.call("edit_file", {"path": "broken.py", "old_text": "pass", "new_text": "return 1"})
    tools.call("edit_file", {"path": "broken.py", "old_text": "def f(:", "new_text": "def f():"})

    assert (demo_repo / "broken.py").read_text() == "def f():\n    return 1\n"


def test_a_file_with_windows_line_ends_can_be_edited(tools, sandbox, demo_repo):
    sandbox.write_file("/workspace/notes.txt", b"one\r\ntwo\r\nthree\r\n")

    tools.call("edit_file", {"path": "notes.txt", "old_text": "one\ntwo", "new_text": "1\n2"})

    assert (demo_repo / "notes.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


def test_create_makes_folders_and_refuses_to_overwrite_unless_asked(tools, demo_repo):
    made = tools.call("create_file", {"path": "pkg/sub/new.py", "content": "X = 1\n"})

    assert made.text.startswith("Created /workspace/pkg/sub/new.py")
    assert (demo_repo / "pkg/sub/new.py").read_text() == "X = 1\n"
    with pytest.raises(ToolError, match="already exists"):
        tools.call("create_file", {"path": "pkg/sub/new.py", "content": "X = 2\n"})
    again = tools.call("create_file", {"path": "pkg/sub/new.py", "content": "X = (\n", "overwrite": "true"})
    assert again.text.startswith("Overwrote") and "does not parse" in again.text


def test_search_finds_lines_with_file_and_number(tools):
    seen = tools.call("search", {"pattern": r"def (add|mul)", "glob": "*.py"})

    assert seen.text.splitlines() == ["calc.py:1:def add(a, b):", "calc.py:5:def mul(a, b):"]


def test_search_without_matches_and_with_a_bad_pattern(tools):
    assert tools.call("search", {"pattern": "zebra"}).text == "No matches for 'zebra' in the workspace."
    with pytest.raises(ToolError, match="search failed"):
        tools.call("search", {"pattern": "(unclosed"})


def test_run_tests_reads_junit_and_names_the_failure(tools):
    seen = tools.call("run_tests", {})

    assert seen.test_result is not None and seen.test_result.source == "junit"
    assert seen.text.startswith("Tests: 1 passed, 1 failed (exit code 1)")
    assert "- test_calc::test_add: assert -1 == 5" in seen.text


def test_submit_raises_the_outcome_with_the_summary(tools):
    with pytest.raises(Submitted) as ended:
        tools.call("submit", {"summary": "  Fixed add.  "})
    assert ended.value.summary == "Fixed add."


def test_a_file_the_sandbox_may_not_write_is_an_error_not_a_crash(tools, demo_repo):
    (demo_repo / "locked.txt").write_text("x\n")
    (demo_repo / "locked.txt").chmod(0o444)

    with pytest.raises(ToolError, match="cannot write it"):
        tools.call("edit_file", {"path": "locked.txt", "old_text": "x", "new_text": "y"})


def test_missing_and_mistyped_arguments_are_errors(tools):
    with pytest.raises(ToolError, match="missing argument 'path'"):
        tools.call("view_file", {})
    with pytest.raises(ToolError, match="'start_line' must be an integer"):
        tools.call("view_file", {"path": "calc.py", "start_line": "two"})


def test_without_a_test_command_there_is_no_run_tests_tool(sandbox):
    names = [spec.name for spec in Toolbox(sandbox, AgentConfig(), test_command="").specs]

    assert "run_tests" not in names and "submit" in names
