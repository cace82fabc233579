"""Workspaces: a cheap clone of a cached mirror, checked out on the run's branch.

Layout, for a workspace at ``dest``::

    mirrors/<key>.git        bare mirror of the remote's branches and tags (MirrorCache)
    workspaces/<run>/        the working tree: the sandbox's /workspace
    workspaces/<run>.git     its git dir, *outside* the working tree

The git dir shares the mirror's objects (``clone --shared``), so a workspace
costs a checkout and no object copy. It lives outside the working tree because
the agent controls everything in the working tree: a ``.git/config`` the agent
could edit (hooks, fsmonitor, filters, ``url.insteadOf``) would run commands as
the worker the next time the worker ran git there. The worker's git ignores
what the agent writes and always names the git dir and work tree itself.
Inside the sandbox, ``/workspace/.git`` points at the git dir, which is
mounted read-only at its host path along with the mirror (see
``Workspace.readonly_mounts``): ``git status``, ``diff`` and ``log`` work there;
commands that write the repository fail, and committing is the worker's job.

Checking out every file is most of a workspace's cost (the objects are
shared). ``MirrorCache.stock`` makes a spare checkout ahead of time, off the
critical path; ``prepare_workspace`` adopts it with a rename and writes only
the files that differ.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agents.git import GitCredentials, GitError, check_credentials_transport, run_git, validate_repo_url

AGENT_NAME = "Slipway Agent"
AGENT_EMAIL = "agent@slipway.local"
SNAPSHOT_PREFIX = "refs/slipway/"
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a commit's full name (SHA-1 or SHA-256)

# For every git the worker runs in a workspace (on top of agents.git's hardening). The working
# tree belongs to the sandbox's uid, hence safe.directory; git never looks into repositories the
# agent may have made inside it (submodules), and ownership changes do not make files look modified.
WORKSPACE_CONFIG = (
    "safe.directory=*",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "core.trustctime=false",
    "core.quotepath=off",
    "commit.gpgSign=false",
    "gc.auto=0",
)


@dataclass(frozen=True)
class DiffStat:
    files: int
    additions: int
    deletions: int
    """Binary files count as files, with no lines."""


class MirrorCache:
    """Bare mirrors of linked repositories, one per key, shared by every worker on a host."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def mirror_path(self, key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", key).lstrip(".") or "_"
        return self.root / f"{safe}.git"

    def ensure(
        self,
        url: str,
        key: str,
        credentials: GitCredentials | None = None,
        allow_local: bool = False,
        timeout: float = 900,
    ) -> Path:
        """The mirror for ``key``, cloned the first time and fetched (with pruning) afterwards."""
        url = validate_repo_url(url, allow_local=allow_local)
        check_credentials_transport(url, credentials)
        path = self.mirror_path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_suffix(".lock")):  # two workers never fetch into one mirror at once
            if not (path / "HEAD").exists():
                self._clone(url, path, credentials, allow_local, timeout)
            else:
                # The project's URL may have changed since the mirror was made.
                run_git(["--git-dir", str(path), "config", "remote.origin.url", url])
                run_git(
                    ["--git-dir", str(path), "fetch", "--quiet", "--prune", "--prune-tags", "origin"],
                    credentials=credentials,
                    allow_local=allow_local,
                    timeout=timeout,
                )
        return path

    def _clone(
        self, url: str, path: Path, credentials: GitCredentials | None, allow_local: bool, timeout: float
    ) -> None:
        # Into a temporary name first: a worker killed mid-clone leaves no half mirror under the real one.
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        try:
            run_git(
                ["clone", "--quiet", "--bare", "--", url, str(temp)],
                credentials=credentials,
                allow_local=allow_local,
                timeout=timeout,
            )
            # Branches and tags only: a forge's refs/pull/* would multiply the refs of every workspace.
            git = ["--git-dir", str(temp), "config"]
            run_git([*git, "remote.origin.fetch", "+refs/heads/*:refs/heads/*"])
            run_git([*git, "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"])
            # Objects a live workspace borrows (clone --shared) must outlive their refs: keep gc's grace period.
            run_git([*git, "gc.pruneExpire", "2.weeks.ago"])
            run_git([*git, "gc.autoDetach", "false"])
            temp.rename(path)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def stock(self, key: str, *, base: str = "HEAD", count: int = 1) -> int:
        """Check out spare workspaces of ``key``'s mirror ahead of time; how many were made.

        Off a run's critical path (after a run ends, or from housekeeping): the next
        ``prepare_workspace`` adopts a spare with a rename and writes only the files that
        differ, instead of every file of the repository. Spares must be on the same file
        system as the workspaces to help.
        """
        mirror = self.mirror_path(key)
        spares = _spares(mirror)
        spares.mkdir(exist_ok=True)
        made = 0
        while len(list(spares.glob("[!.]*"))) < count:
            # Built under a hidden name, so no worker adopts half a spare.
            temp = spares / f".{uuid.uuid4().hex[:12]}"
            try:
                _clone(mirror, temp / "tree", temp / "tree.git")
                spare = Workspace(
                    path=temp / "tree", git_dir=temp / "tree.git", mirror=mirror, branch="", base=""
                )
                spare.git("checkout", "--quiet", "--detach", spare.resolve(base) or base)
                # Files written in the index's own second look "racily clean" to git, which would
                # hash all of them again at adoption. A refresh a second later records them as clean.
                time.sleep(max(0.0, 1.05 - (time.time() % 1)))
                spare.git("update-index", "-q", "--refresh")
                temp.rename(spares / temp.name[1:])
            finally:
                _remove_tree(temp)
            made += 1
        return made


def branch_name(intent_id: int, title: str, attempt: int) -> str:
    """``slipway/<intent>-<slug>/<attempt>``, with a slug any git accepts in a ref."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].rstrip("-") or "change"
    return f"slipway/{intent_id}-{slug}/{attempt}"


def prepare_workspace(mirror: Path, dest: Path, *, base: str, branch: str) -> Workspace:
    """A working tree at ``dest`` on ``branch``: the mirror's branch if it exists, else a new one at ``base``.

    A spare checkout of the mirror (``MirrorCache.stock``) is adopted when there is one: then
    only the files that differ are written, instead of all of them.
    """
    dest, mirror = Path(dest).absolute(), Path(mirror).absolute()
    git_dir = dest.with_name(dest.name + ".git")
    if dest.exists() and any(dest.iterdir()):
        raise GitError(f"cannot prepare a workspace in {dest}: it is not empty")
    _check_branch(branch)
    dest.parent.mkdir(parents=True, exist_ok=True)  # a spare is adopted by renaming it there
    adopted = _adopt_spare(mirror, dest, git_dir)
    if not adopted:
        _clone(mirror, dest, git_dir)
    workspace = Workspace(path=dest, git_dir=git_dir, mirror=mirror, branch=branch, base="")
    try:
        if adopted:
            # The spare borrows the mirror's objects (``clone --shared``): its refs are all it lacks
            # of what the mirror learnt since it was made, and the mirror itself says where they are.
            tips = _mirror_tips(mirror, (base, branch))
            continued = tips.get(branch)
            start = continued or tips.get(base) or workspace.resolve(base)
        else:
            continued = workspace.resolve(f"refs/remotes/origin/{branch}")
            start = continued or workspace.resolve(f"refs/remotes/origin/{base}") or workspace.resolve(base)
        if start is None:
            raise GitError(f"the repository has no branch or commit {base!r}")
        if adopted:
            # `checkout` would lstat all files of the spare; a two-tree read-tree touches only what differs.
            spare_head = workspace.head()
            if spare_head != start:
                workspace.git("read-tree", "-m", "-u", spare_head, start)
            # One transaction: the run's branch, and origin/<base> and origin/<branch> as the mirror has them.
            updates = [f"update refs/heads/{branch} {start}"] + [
                f"update refs/remotes/origin/{name} {tips[name]}" if name in tips else f"delete refs/remotes/origin/{name}"
                for name in dict.fromkeys((base, branch))
            ]
            workspace.git("update-ref", "--stdin", input="\n".join(updates) + "\n")
            workspace.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        else:
            workspace.git("checkout", "--quiet", "--no-track", "-B", branch, start)
    except BaseException:
        workspace.cleanup()
        raise
    return Workspace(
        path=dest, git_dir=git_dir, mirror=mirror, branch=branch, base=start, continued=continued is not None
    )


def _mirror_tips(mirror: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The commits the mirror's branches of these names point at (names it lacks are left out).

    One ``for-each-ref`` of the names a run reads, where a ``fetch`` into an adopted spare would
    compare every branch of the mirror: one per run ever proposed.
    """
    patterns = [f"refs/heads/{name}" for name in names]
    listed = run_git(
        ["--git-dir", str(mirror), "for-each-ref", "--format=%(objectname) %(refname)", "--", *patterns],
        allow_local=True,
    ).stdout.splitlines()
    refs = dict(reversed(line.split(" ", 1)) for line in listed if line)
    return {name: refs[pattern] for name, pattern in zip(names, patterns, strict=True) if pattern in refs}


def _clone(mirror: Path, dest: Path, git_dir: Path) -> None:
    # --shared borrows the mirror's objects (nothing copied); the git dir goes outside the working tree.
    args = ["clone", "--quiet", "--shared", "--no-checkout", "--separate-git-dir", str(git_dir)]
    run_git([*args, "--", str(mirror), str(dest)], allow_local=True)


def _spares(mirror: Path) -> Path:
    return mirror.with_name(mirror.name.removesuffix(".git") + ".spares")


def _adopt_spare(mirror: Path, dest: Path, git_dir: Path) -> bool:
    """Move a spare checkout of ``mirror`` to ``dest``; False when there is none (or it cannot move here)."""
    spares = _spares(mirror)
    for spare in sorted(spares.glob("[!.]*")) if spares.is_dir() else []:
        claim = dest.with_name(f".{dest.name}.claim")
        try:
            spare.rename(claim)  # atomic: each spare goes to one worker
        except FileNotFoundError:
            continue  # another worker took it
        except OSError:
            return False  # e.g. workspaces on another file system: renames cannot help there
        try:
            if dest.exists():
                dest.rmdir()
            (claim / "tree").rename(dest)
            (claim / "tree.git").rename(git_dir)
            claim.rmdir()
            (dest / ".git").write_text(f"gitdir: {git_dir}\n")
            return True
        except (OSError, GitError):
            for path in (claim, dest, git_dir):
                _remove_tree(path)
            return False
    return False


@dataclass(frozen=True)
class Workspace:
    path: Path
    git_dir: Path
    mirror: Path
    branch: str
    base: str
    """The commit the workspace started from (the branch's tip when it continued one)."""
    continued: bool = False
    """Whether ``branch`` already existed (a later round of review) rather than starting at ``base``."""

    @property
    def readonly_mounts(self) -> tuple[tuple[Path, str], ...]:
        """For ``SandboxSpec.readonly_mounts``: git inside the sandbox needs its git dir and the mirror."""
        return ((self.git_dir, str(self.git_dir)), (self.mirror, str(self.mirror)))

    def git(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
        """Run git in this workspace (naming its git dir and work tree); its output."""
        return self._run(*args, env=env, input=input).stdout

    def _run(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        options = [arg for option in WORKSPACE_CONFIG for arg in ("-c", option)]
        argv = ["--git-dir", str(self.git_dir), "--work-tree", str(self.path), *options, *args]
        return run_git(argv, cwd=self.path, env=env, input=input, check=check, allow_local=True, timeout=600)

    def resolve(self, rev: str) -> str | None:
        """The commit ``rev`` names, or None."""
        args = ["--git-dir", str(self.git_dir), "rev-parse", "--verify", "--quiet", "--end-of-options"]
        done = run_git([*args, f"{rev}^{{commit}}"], check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def commit_all(
        self,
        message: str,
        *,
        author_name: str = AGENT_NAME,
        author_email: str = AGENT_EMAIL,
        trailers: dict[str, str] | None = None,
    ) -> str | None:
        """Commit every change in the working tree (new files too, ignored ones not); None when nothing changed."""
        self.git("add", "--all")
        if self._run("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        args = ["commit", "--quiet", "--no-verify", "--cleanup=strip", "-m", message]
        for key, value in (trailers or {}).items():
            args += ["--trailer", f"{key}: {value}"]
        self.git(*args, env=_identity(author_name, author_email))
        return self.head()

    def diff(self, base: str, to: str | None = None) -> str:
        """Unified diff from ``base`` to ``to`` (a commit), by default the working tree as it is,
        untracked files included."""
        return self.git("diff", "--no-color", "--no-ext-diff", "--no-textconv", self._commit(base), to or self.tree())

    def diff_stat(self, base: str, to: str | None = None) -> DiffStat:
        out = self.git(
            "diff", "--numstat", "--no-ext-diff", "--no-textconv", "-z", self._commit(base), to or self.tree()
        )
        files = additions = deletions = 0
        for entry in out.split("\0"):
            counts = entry.split("\t")
            if len(counts) < 3:
                continue  # a rename's paths follow in their own fields
            files += 1
            additions += int(counts[0]) if counts[0].isdigit() else 0
            deletions += int(counts[1]) if counts[1].isdigit() else 0
        return DiffStat(files, additions, deletions)

    def tree(self) -> str:
        """The tree of the working tree as it is (untracked files included, ignored ones not)."""
        with self._scratch_index() as env:
            self.git("add", "--all", env=env)
            return self.git("write-tree", env=env).strip()

    def snapshot(self, ref: str) -> str:
        """Commit the working tree onto ``ref`` (e.g. refs/slipway/runs/42/7), leaving index, HEAD and branch alone."""
        _check_snapshot_ref(ref)
        identity = _identity(AGENT_NAME, AGENT_EMAIL)
        commit = self.git(
            "commit-tree", self.tree(), "-p", "HEAD", "-m", f"snapshot {ref}", env=identity
        ).strip()
        self.git("update-ref", ref, commit)
        return commit

    def restore(self, ref: str) -> None:
        """Make the working tree equal to snapshot ``ref`` again; ignored files stay, HEAD and the index too."""
        _check_snapshot_ref(ref)
        target = self._commit(ref)
        changed = self.git("diff-tree", "-r", "-z", "--no-renames", "--name-status", target, self.tree())
        fields = changed.split("\0")
        pairs = list(zip(fields[::2], fields[1::2], strict=False))  # status, path
        added = [path for status, path in pairs if status == "A"]
        others = [path for status, path in pairs if status and status != "A"]
        for relative in added:
            self._remove(relative)
        if others:
            with self._scratch_index() as env:
                self.git("read-tree", target, env=env)
                self.git("checkout-index", "-f", "-z", "--stdin", env=env, input="\0".join(others))
        self._hand_back()

    def push(
        self,
        remote_url: str,
        branch: str | None = None,
        credentials: GitCredentials | None = None,
        *,
        allow_local: bool = False,
    ) -> None:
        """Push HEAD to ``branch`` (the workspace's own by default) of the remote; never forced."""
        url = validate_repo_url(remote_url, allow_local=allow_local)
        check_credentials_transport(url, credentials)
        target = branch or self.branch
        _check_branch(target)
        args = ["--git-dir", str(self.git_dir), "push", "--quiet", "--no-verify"]
        run_git(
            [*args, "--", url, f"HEAD:refs/heads/{target}"],
            credentials=credentials,
            allow_local=allow_local,
            timeout=600,
        )

    def cleanup(self) -> None:
        for path in (self.path, self.git_dir):
            _remove_tree(path)

    # --- helpers ----------------------------------------------------------------

    def _commit(self, rev: str) -> str:
        if FULL_SHA.fullmatch(rev):
            return rev  # already a commit's name (a missing one fails in the command that reads it)
        commit = self.resolve(rev)
        if commit is None:
            raise GitError(f"no commit {rev!r} in the workspace")
        return commit

    @contextmanager
    def _scratch_index(self) -> Iterator[dict[str, str]]:
        """A throwaway index, seeded from the real one so unchanged files need not be hashed again."""
        fd, name = tempfile.mkstemp(prefix="index-", dir=self.git_dir)
        os.close(fd)
        try:
            real = self.git_dir / "index"
            if real.exists():
                shutil.copyfile(real, name)
            yield {"GIT_INDEX_FILE": name}
        finally:
            os.unlink(name)

    def _remove(self, relative: str) -> None:
        target = self.path / relative
        # Git never lists a path below a symlink, but check: nothing outside the workspace goes.
        if not target.parent.resolve().is_relative_to(self.path.resolve()):
            raise GitError(f"refusing to remove {relative}: it is not inside the workspace")
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != self.path and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def _hand_back(self) -> None:
        """Files the worker (root) wrote go back to the working tree's owner, the sandbox's user."""
        owner = self.path.stat()
        if os.geteuid() == 0 and owner.st_uid != 0:
            subprocess.run(
                ["chown", "-R", "--no-dereference", f"{owner.st_uid}:{owner.st_gid}", "--", str(self.path)],
                check=True,
            )


def _identity(name: str, email: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _check_branch(branch: str) -> None:
    done = run_git(["check-ref-format", "--branch", branch], check=False)
    if done.returncode != 0 or branch.startswith("-"):
        raise GitError(f"{branch!r} is not a valid branch name")


def _check_snapshot_ref(ref: str) -> None:
    if not ref.startswith(SNAPSHOT_PREFIX) or run_git(["check-ref-format", ref], check=False).returncode != 0:
        raise GitError(f"{ref!r} is not a snapshot ref (they live under {SNAPSHOT_PREFIX})")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_tree(path: Path) -> None:
    def make_writable_and_retry(function: object, failed: str, _: object) -> None:
        # The agent may have left a directory without write permission (a non-root worker cannot ignore that).
        os.chmod(os.path.dirname(failed), stat.S_IRWXU)
        if os.path.isdir(failed) and not os.path.islink(failed):
            shutil.rmtree(failed, onerror=make_writable_and_retry)
        else:
            os.unlink(failed)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)
