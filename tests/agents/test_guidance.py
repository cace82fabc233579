"""What the repository says about itself, read inside the sandbox."""

from __future__ import annotations

from agents.guidance import gather_guidance
from tests.agents.conftest import git


def test_guidance_files_the_tree_and_the_commit_are_gathered(sandbox, demo_repo):
    (demo_repo / "src" / "pkg").mkdir(parents=True)
    (demo_repo / "src" / "pkg" / "deep.py").write_text("")
    (demo_repo / "node_modules" / "x").mkdir(parents=True)

    guidance = gather_guidance(sandbox, depth=2)

    assert list(guidance.files) == ["AGENTS.md", "README.md"]
    assert guidance.files["AGENTS.md"] == "Keep functions small. Never touch the tests."
    tree = guidance.tree.splitlines()
    assert tree == [
        ".gitignore",
        "AGENTS.md",
        "README.md",
        "calc.py",
        "node_modules/",
        "src/",
        "src/pkg/",
        "test_calc.py",
    ]
    assert guidance.commit == git(demo_repo, "rev-parse", "HEAD").strip()


def test_long_files_and_trees_are_clipped(sandbox, demo_repo):
    (demo_repo / "README.md").write_text("word " * 5000)
    for n in range(30):
        (demo_repo / f"f{n:02}.txt").write_text("")

    guidance = gather_guidance(sandbox, entries=10, chars=100)

    assert guidance.files["README.md"].endswith("[... cut ...]") and len(guidance.files["README.md"]) < 130
    assert len(guidance.tree.splitlines()) == 11 and guidance.tree.endswith("[... more than 10 entries ...]")
