"""Merging a change into the linked repository's base branch, with real git.

Every merge happens in a throwaway clone of the project's mirror (``clone
--shared``: the run's commits are there, and nothing is copied), after
fetching the base branch fresh from the linked repository. So a base that
moved since the run is noticed here: the merge then either still applies, or
stops with the conflicting files named, and nothing is pushed. The result is
pushed without force to the base branch, so a push that races someone else's
is refused rather than overwriting it. Credentials reach git only through
``agents.git.run_git`` (askpass, environment of that one process), and every
message it raises is redacted.

A linked *local* repository is usually a working copy with the base branch
checked out, where git refuses a push to the current branch. For those, and
only those, the push asks the receiving side for
``receive.denyCurrentBranch=updateInstead``: git then updates the branch and
its working tree together, and refuses (which we report) when the working
tree has uncommitted changes. The setting lives on that one command line; the
repository's configuration is never changed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agents.git import (
    GitCredentials,
    GitError,
    RepoURLError,
    check_credentials_transport,
    ls_remote,
    redact,
    run_git,
    validate_repo_url,
)

STRATEGIES = ("merge", "squash", "ff")
# Per git command: talking to the linked repository, and on this machine. The merge runs in a request.
NETWORK_TIMEOUT = 120.0
LOCAL_TIMEOUT = 60.0
BRANCH_PREFIX = "slipway/"
# Only for a local target: the receiving git updates a checked-out branch and its working tree, and runs
# none of the repository's hooks (ours run with hooks off; the receiving side must too).
LOCAL_RECEIVE_PACK = "git -c receive.denyCurrentBranch=updateInstead -c core.hooksPath=/dev/null receive-pack"


class MergeError(Exception):
    """The change was not merged; the message is for a person and holds no credential."""


class MergeConflict(MergeError):
    def __init__(self, base_branch: str, base_sha: str, files: list[str]) -> None:
        super().__init__(
            f"{base_branch} has moved on (now at {base_sha[:10]}) and this change no longer applies: "
            f"{len(files)} file{'s' if len(files) != 1 else ''} conflict ({', '.join(files[:10])}"
            f"{', ...' if len(files) > 10 else ''})."
        )
        self.base_sha = base_sha
        self.files = files


class NotFastForward(MergeError):
    def __init__(self, base_branch: str, base_sha: str) -> None:
        super().__init__(
            f"{base_branch} has moved on (now at {base_sha[:10]}), so this change cannot be fast-forwarded: "
            "merge it with a merge commit or a squash, or rebase it with the agent."
        )
        self.base_sha = base_sha


class BaseMoved(MergeError):
    """Someone pushed to the base branch between our fetch and our push."""


@dataclass(frozen=True)
class Target:
    """The linked repository and its base branch."""

    url: str
    branch: str
    credentials: GitCredentials | None
    allow_local: bool


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def env(self, role: str) -> dict[str, str]:
        return {f"GIT_{role}_NAME": self.name, f"GIT_{role}_EMAIL": self.email}


@dataclass(frozen=True)
class MergeResult:
    commit: str
    """The base branch's new tip (the merge commit, the squash commit, or the change's head)."""
    base_sha: str
    """The base branch's tip the merge started from."""
    strategy: str
    pushed: bool


def merge_into_base(
    mirror: Path,
    target: Target,
    head: str,
    strategy: str,
    *,
    message: str,
    merger: Person,
    scratch: Path,
    push: bool = True,
    keep_ref: str | None = None,
) -> MergeResult:
    """Merge commit ``head`` into ``target.branch`` with ``strategy`` and push it (unless ``push`` is off).

    Raises ``MergeConflict``, ``NotFastForward``, ``BaseMoved`` or ``MergeError``; pushes nothing then.
    ``keep_ref`` names a ref in the mirror that keeps the result (so the page can show it).
    """
    if strategy not in STRATEGIES:
        raise MergeError(f"Unknown merge strategy {strategy!r}.")
    _check_branch(target.branch)
    if not (Path(mirror) / "HEAD").exists():
        raise MergeError("The change's commits are not on this server any more (the project's mirror is gone).")
    try:
        url = validate_repo_url(target.url, allow_local=target.allow_local)
        check_credentials_transport(url, target.credentials)
    except (RepoURLError, GitError) as exc:
        raise MergeError(f"The linked repository cannot be used: {exc}") from None
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="merge-", dir=scratch))
    try:
        git = _Git(work / "repo", target)
        run_git(["clone", "--quiet", "--shared", "--no-checkout", "--", str(mirror), str(git.path)], allow_local=True)
        if git.run("cat-file", "-e", f"{head}^{{commit}}", check=False).returncode != 0:
            raise MergeError(f"The change's commit {head[:10]} is not on this server any more.")
        base = _fetch_base(git, url, target.branch)
        if git.run("merge-base", "--is-ancestor", head, base, check=False).returncode == 0:
            raise MergeError(f"{target.branch} already contains this change.")
        git.run("checkout", "--quiet", "--detach", base)
        commit = _merge(git, head, base, strategy, target.branch, message, merger)
        if push:
            _push(git, url, target, commit)
        if keep_ref:
            git.run("push", "--quiet", "--no-verify", "--", str(mirror), f"{commit}:{keep_ref}", allow_local=True)
        return MergeResult(commit=commit, base_sha=base, strategy=strategy, pushed=push)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def delete_branches(mirror: Path, target: Target, branches: Iterable[str]) -> list[str]:
    """Delete the runs' branches from the mirror and, where they exist, from the linked repository."""
    names = sorted({b for b in branches if b.startswith(BRANCH_PREFIX) and b != target.branch})
    for name in names:
        _check_branch(name)
    if not names:
        return []
    url = validate_repo_url(target.url, allow_local=target.allow_local)
    check_credentials_transport(url, target.credentials)
    deleted = set()
    if (Path(mirror) / "HEAD").exists():
        for name in names:
            ref = f"refs/heads/{name}"
            if run_git(["--git-dir", str(mirror), "show-ref", "--verify", "--quiet", ref], check=False).returncode == 0:
                run_git(["--git-dir", str(mirror), "update-ref", "-d", ref])
                deleted.add(name)
    try:
        remote = ls_remote(url, credentials=target.credentials, allow_local=target.allow_local, timeout=NETWORK_TIMEOUT)
        there = [name for name in names if f"refs/heads/{name}" in remote]
        if there:
            run_git(
                ["--git-dir", str(mirror), "push", "--quiet", "--no-verify", "--", url, *[f":refs/heads/{n}" for n in there]],
                credentials=target.credentials,
                allow_local=target.allow_local,
                timeout=NETWORK_TIMEOUT,
            )
            deleted.update(there)
    except GitError as exc:
        raise MergeError(f"Could not delete the branch from the linked repository: {exc}") from None
    return sorted(deleted)


def commit_web_url(repo_url: str, sha: str) -> str | None:
    """The commit's page on a forge (GitHub, GitLab, Gitea, ...), when the repository is on one."""
    if not sha:
        return None
    url = repo_url.strip()
    if url.startswith("git@") and ":" in url:
        host, _, path = url[4:].partition(":")
        url = f"https://{host}/{path}"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    path = parts.path.removesuffix("/").removesuffix(".git")
    return f"https://{parts.hostname}{path}/commit/{sha}"


# -- internals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Git:
    """git in the merge clone."""

    path: Path
    target: Target

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, allow_local: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """On this machine (``allow_local`` to push into the mirror)."""
        return run_git([*self._options(), *args], check=check, env=env, allow_local=allow_local, timeout=LOCAL_TIMEOUT)

    def remote(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Talking to the linked repository: with its credentials, and a network's patience."""
        return run_git(
            [*self._options(), *args],
            credentials=self.target.credentials,
            allow_local=self.target.allow_local,
            timeout=NETWORK_TIMEOUT,
            check=check,
        )

    def _options(self) -> list[str]:
        return ["-C", str(self.path), "-c", "core.quotepath=off", "-c", "commit.gpgSign=false", "-c", "gc.auto=0"]


def _fetch_base(git: _Git, url: str, branch: str) -> str:
    try:
        git.remote("fetch", "--quiet", "--no-tags", "--", url, f"+refs/heads/{branch}:refs/slipway/base")
    except GitError as exc:
        raise MergeError(f"Could not fetch {branch} from the linked repository: {exc}") from None
    return git.run("rev-parse", "refs/slipway/base").stdout.strip()


def _merge(git: _Git, head: str, base: str, strategy: str, branch: str, message: str, merger: Person) -> str:
    env = merger.env("AUTHOR") | merger.env("COMMITTER")
    if strategy == "ff":
        if git.run("merge-base", "--is-ancestor", base, head, check=False).returncode != 0:
            raise NotFastForward(branch, base)
        git.run("merge", "--quiet", "--ff-only", head, env=env)
    elif strategy == "merge":
        done = git.run("merge", "--quiet", "--no-ff", "--no-edit", "-m", message, head, check=False, env=env)
        _check_merged(git, done.returncode, done.stderr, branch, base)
    else:
        done = git.run("merge", "--quiet", "--squash", head, check=False, env=env)
        _check_merged(git, done.returncode, done.stderr, branch, base)
        if git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
            raise MergeError(f"{branch} already contains everything this change does.")
        # The change's author (the agent) stays its author; the person merging it commits it.
        author = git.run("log", "-1", "--format=%an%n%ae", head).stdout.splitlines()
        author_env = Person(*author[:2]).env("AUTHOR") if len(author) >= 2 else merger.env("AUTHOR")
        git.run("commit", "--quiet", "--no-verify", "--cleanup=strip", "-m", message, env=merger.env("COMMITTER") | author_env)
    return git.run("rev-parse", "HEAD").stdout.strip()


def _check_merged(git: _Git, returncode: int, stderr: str, branch: str, base: str) -> None:
    if returncode == 0:
        return
    files = [p for p in git.run("diff", "--name-only", "--diff-filter=U", "-z").stdout.split("\0") if p]
    if files:
        raise MergeConflict(branch, base, files)
    raise MergeError(f"git could not merge the change: {stderr.strip().splitlines()[-1] if stderr.strip() else 'unknown error'}")


def _push(git: _Git, url: str, target: Target, commit: str) -> None:
    args = ["push", "--quiet", "--no-verify", "--porcelain"]
    if url.startswith("/"):  # validated: a local path, never a URL
        args.append(f"--receive-pack={LOCAL_RECEIVE_PACK}")
    done = git.remote(*args, "--", url, f"{commit}:refs/heads/{target.branch}", check=False)
    if done.returncode == 0:
        return
    said = redact(f"{done.stdout}\n{done.stderr}", target.credentials)
    if "(fetch first)" in said or "(non-fast-forward)" in said or "stale info" in said:
        raise BaseMoved(f"Someone pushed to {target.branch} while this change was being merged; nothing was pushed. Merge again.")
    if "unstaged changes" in said or "staged changes" in said or "Up-to-date check failed" in said:
        raise MergeError(
            f"The repository at {target.url} has uncommitted changes in its working tree, so git will not update its "
            f"checked-out branch {target.branch}. Commit or stash them there, then merge again."
        )
    lines = [line.strip() for line in said.splitlines() if line.strip() and not line.startswith(("To ", "Done"))]
    detail = "; ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in lines[-3:]) or "unknown error"
    raise MergeError(f"Pushing to {target.branch} failed: {detail}")


def _check_branch(branch: str) -> None:
    """Branch names reach refspecs: only what git accepts as a branch name, and never an option."""
    if branch.startswith("-") or run_git(["check-ref-format", "--branch", branch], check=False).returncode != 0:
        raise MergeError(f"{branch!r} is not a valid branch name.")
