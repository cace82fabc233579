"""Mirrors, workspaces and what the worker does with git in them."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from agents.git import GitError, RepoURLError
from agents.workspace import DiffStat, MirrorCache, Workspace, branch_name, prepare_workspace


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c", "safe.directory=*"]
    return subprocess.run(
        ["git", *identity, "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo, {"README.md": "# Widgets\n", "src/app.py": "print('hi')\n", ".gitignore": "*.log\n"}, "first"
    )
    return repo


@pytest.fixture
def cache(tmp_path: Path) -> MirrorCache:
    return MirrorCache(tmp_path / "mirrors")


@pytest.fixture
def workspace(origin: Path, cache: MirrorCache, tmp_path: Path) -> Workspace:
    mirror = cache.ensure(str(origin), "acme/widgets", allow_local=True)
    return prepare_workspace(mirror, tmp_path / "workspaces" / "run-1", base="main", branch="slipway/7-fix/1")


def test_a_mirror_is_cloned_once_and_fetching_picks_up_new_commits_and_prunes(
    origin: Path, cache: MirrorCache
):
    git(origin, "branch", "doomed")
    mirror = cache.ensure(str(origin), "acme/widgets", allow_local=True)
    newer = commit(origin, {"README.md": "# Widgets, v2\n"}, "second")
    git(origin, "branch", "-D", "doomed")

    assert (
        cache.ensure(str(origin), "acme/widgets", allow_local=True)
        == mirror
        == cache.mirror_path("acme/widgets")
    )
    assert git(mirror, "rev-parse", "refs/heads/main").strip() == newer
    assert git(mirror, "for-each-ref", "--format=%(refname)", "refs/heads/") == "refs/heads/main\n"


def test_two_workers_ensuring_one_mirror_at_once_both_get_it(origin: Path, cache: MirrorCache):
    barrier, paths, errors = threading.Barrier(2), [], []

    def worker() -> None:
        barrier.wait()
        try:
            paths.append(cache.ensure(str(origin), "acme/widgets", allow_local=True))
        except Exception as exc:  # pragma: no cover - the failure this test exists to catch
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(set(paths)) == 1
    assert [p.name for p in cache.root.iterdir() if p.suffix == ".git"] == ["acme_widgets.git"]


def test_a_local_repository_needs_permission(origin: Path, cache: MirrorCache):
    with pytest.raises(RepoURLError, match="Local paths are not allowed"):
        cache.ensure(str(origin), "acme/widgets")


def test_the_workspace_starts_at_base_on_its_branch_with_its_git_dir_outside(
    workspace: Workspace, origin: Path
):
    assert workspace.head() == workspace.base == git(origin, "rev-parse", "main").strip()
    assert workspace.git("symbolic-ref", "HEAD").strip() == "refs/heads/slipway/7-fix/1"
    assert (workspace.path / "src" / "app.py").read_text() == "print('hi')\n"
    assert (workspace.path / ".git").read_text().strip() == f"gitdir: {workspace.git_dir}"
    assert not workspace.git_dir.is_relative_to(workspace.path)
    assert workspace.git("status", "--porcelain") == ""


def test_a_branch_that_exists_already_is_continued_instead_of_base(
    origin: Path, cache: MirrorCache, tmp_path: Path
):
    git(origin, "checkout", "-q", "-b", "slipway/7-fix/1")
    tip = commit(origin, {"src/app.py": "print('fixed')\n"}, "first round")
    git(origin, "checkout", "-q", "main")
    mirror = cache.ensure(str(origin), "acme/widgets", allow_local=True)

    again = prepare_workspace(mirror, tmp_path / "run-2", base="main", branch="slipway/7-fix/1")

    assert again.head() == again.base == tip
    assert (again.path / "src" / "app.py").read_text() == "print('fixed')\n"


def test_a_missing_base_is_an_error_and_leaves_nothing_behind(
    cache: MirrorCache, origin: Path, tmp_path: Path
):
    mirror = cache.ensure(str(origin), "acme/widgets", allow_local=True)

    with pytest.raises(GitError, match="no branch or commit 'nope'"):
        prepare_workspace(mirror, tmp_path / "run-3", base="nope", branch="slipway/1-x/1")

    assert not (tmp_path / "run-3").exists() and not (tmp_path / "run-3.git").exists()


def test_branch_names_are_readable_and_always_valid_refs():
    assert branch_name(42, "Fix: the *weird* title ~^:?[..]", 2) == "slipway/42-fix-the-weird-title/2"
    assert branch_name(7, "¡¿", 1) == "slipway/7-change/1"
    long = branch_name(3, "a very long title " * 10, 1)
    assert len(long) < 60 and not long.split("/")[1].endswith("-")
    for name in (long, branch_name(9, "..lock @{x} .lock", 1)):
        assert (
            subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True).returncode == 0
        )


def test_commit_all_commits_new_and_changed_files_with_trailers(workspace: Workspace):
    (workspace.path / "src" / "app.py").write_text("print('hello')\n")
    (workspace.path / "src" / "new.py").write_text("x = 1\n")
    (workspace.path / "debug.log").write_text("ignored\n")

    sha = workspace.commit_all("Fix the greeting", trailers={"Intent-Id": "7", "Run-Id": "31"})

    assert sha == workspace.head() != workspace.base
    message = workspace.git("log", "-1", "--format=%an <%ae>%n%B")
    assert message.startswith(
        "Slipway Agent <agent@slipway.local>\nFix the greeting\n\nIntent-Id: 7\nRun-Id: 31\n"
    )
    assert workspace.git("show", "--name-only", "--format=", "HEAD").split() == ["src/app.py", "src/new.py"]
    assert workspace.commit_all("Nothing", trailers={"Run-Id": "31"}) is None


def test_the_diff_includes_untracked_files_and_marks_binary_ones(workspace: Workspace):
    (workspace.path / "README.md").write_text("# Widgets!\n")
    (workspace.path / "NOTES.md").write_text("one\ntwo\n")
    (workspace.path / "blob.bin").write_bytes(b"\0\1\2\3")

    diff = workspace.diff("main")

    assert "-# Widgets\n+# Widgets!\n" in diff
    assert "+++ b/NOTES.md\n@@ -0,0 +1,2 @@\n+one\n+two\n" in diff
    assert "Binary files /dev/null and b/blob.bin differ" in diff
    assert workspace.diff_stat("main") == DiffStat(files=3, additions=3, deletions=1)
    assert workspace.git("status", "--porcelain", "--untracked-files=no") == " M README.md\n", (
        "the index is untouched"
    )


def test_snapshot_and_restore_round_trip_and_leave_head_and_index_alone(workspace: Workspace):
    (workspace.path / "src" / "app.py").write_text("print('step one')\n")
    (workspace.path / "src" / "draft.py").write_text("draft = True\n")
    (workspace.path / "keep.log").write_text("ignored, kept\n")
    status = workspace.git("status", "--porcelain")

    snap = workspace.snapshot("refs/slipway/runs/31/1")
    (workspace.path / "src" / "app.py").write_text("print('step two')\n")
    (workspace.path / "src" / "draft.py").unlink()
    (workspace.path / "README.md").unlink()
    (workspace.path / "later" / "deep").mkdir(parents=True)
    (workspace.path / "later" / "deep" / "new.py").write_text("new = 1\n")
    workspace.restore("refs/slipway/runs/31/1")

    assert workspace.git("rev-parse", "refs/slipway/runs/31/1").strip() == snap
    assert (workspace.path / "src" / "app.py").read_text() == "print('step one')\n"
    assert (workspace.path / "src" / "draft.py").read_text() == "draft = True\n"
    assert (workspace.path / "README.md").read_text() == "# Widgets\n"
    assert not (workspace.path / "later").exists()
    assert (workspace.path / "keep.log").exists()
    assert workspace.head() == workspace.base and workspace.git("status", "--porcelain") == status


def test_a_snapshot_ref_must_be_hidden_under_refs_slipway(workspace: Workspace):
    with pytest.raises(GitError, match="not a snapshot ref"):
        workspace.snapshot("refs/heads/main")


def test_push_sends_the_branch_to_the_remote(workspace: Workspace, origin: Path):
    (workspace.path / "README.md").write_text("# Widgets, pushed\n")
    sha = workspace.commit_all("Push me", trailers={"Run-Id": "1"})

    workspace.push(str(origin), allow_local=True)

    assert git(origin, "rev-parse", "refs/heads/slipway/7-fix/1").strip() == sha


def test_cleanup_removes_the_working_tree_and_its_git_dir(workspace: Workspace):
    (workspace.path / "locked").mkdir()
    (workspace.path / "locked" / "f").write_text("x")
    (workspace.path / "locked").chmod(0o500)

    workspace.cleanup()

    assert not workspace.path.exists() and not workspace.git_dir.exists()


def test_nothing_the_agent_writes_in_the_working_tree_runs_on_the_worker(
    workspace: Workspace, tmp_path: Path
):
    marker = tmp_path / "pwned"
    # A fake .git directory with hooks and an fsmonitor, in place of the real pointer...
    (workspace.path / ".git").unlink()
    (workspace.path / ".git" / "hooks").mkdir(parents=True)
    (workspace.path / ".git" / "config").write_text(
        f"[core]\n\tfsmonitor = touch {marker}\n\thooksPath = hooks\n"
    )
    hook = workspace.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    # ...a nested repository with one of its own, and a filter that would need config to exist.
    nested = workspace.path / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    commit(nested, {"lib.py": "pass\n"}, "vendored")
    git(nested, "config", "core.fsmonitor", f"touch {marker}")
    (workspace.path / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    (workspace.path / "src" / "app.py").write_text("print('changed')\n")

    workspace.diff("main")
    workspace.snapshot("refs/slipway/runs/1/1")
    workspace.commit_all("Change", trailers={"Run-Id": "1"})
    workspace.git("status")

    assert not marker.exists()


def test_a_stocked_spare_is_adopted_and_brought_up_to_date(origin: Path, cache: MirrorCache, tmp_path: Path):
    mirror = cache.ensure(str(origin), "acme/widgets", allow_local=True)
    assert cache.stock("acme/widgets") == 1 and cache.stock("acme/widgets") == 0
    spare = next((tmp_path / "mirrors" / "acme_widgets.spares").iterdir())
    kept = (spare / "tree" / "README.md").stat().st_ino
    # The remote moves on after the spare was made: a new commit, and a branch from a first review round.
    newer = commit(origin, {"src/app.py": "print('v2')\n"}, "second")
    git(origin, "branch", "slipway/7-fix/1")
    cache.ensure(str(origin), "acme/widgets", allow_local=True)

    fresh = prepare_workspace(mirror, tmp_path / "run-9", base="main", branch="slipway/8-new/1")
    continued = prepare_workspace(mirror, tmp_path / "run-10", base="main", branch="slipway/7-fix/1")

    assert (fresh.path / "README.md").stat().st_ino == kept, "the spare's unchanged files were not rewritten"
    assert fresh.head() == newer and (fresh.path / "src" / "app.py").read_text() == "print('v2')\n"
    assert (fresh.path / ".git").read_text().strip() == f"gitdir: {fresh.git_dir}"
    assert (
        fresh.git("status", "--porcelain") == ""
        and fresh.git("symbolic-ref", "HEAD").strip() == "refs/heads/slipway/8-new/1"
    )
    assert continued.head() == newer and not list(spare.parent.iterdir())
    # What a run reads of the remote is current (the merge base of a review round comes from it).
    assert fresh.resolve("refs/remotes/origin/main") == newer
    assert fresh.resolve("refs/remotes/origin/slipway/8-new/1") is None
