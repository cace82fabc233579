"""Does this text parse as Python? Parsing only: nothing is compiled or run."""

from __future__ import annotations

import ast


def syntax_error(source: str, filename: str = "<file>") -> str | None:
    """None when ``source`` parses, else the error as Python would show it."""
    try:
        ast.parse(source, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = f"SyntaxError: {exc.msg} ({where})"
        if exc.text:
            line = exc.text.rstrip("\n")
            caret = " " * max(0, (exc.offset or 1) - 1) + "^"
            text += f"\n    {line}\n    {caret}"
        return text
    except (ValueError, RecursionError, MemoryError) as exc:
        # Null bytes, or nesting deep enough to exhaust the parser: not valid Python either way.
        return f"{exc.__class__.__name__}: {exc}"
    return None
