"""Git, hardened: every git the worker runs goes through ``run_git``.

Repository URLs come from users, so they are validated before git sees them
(``validate_repo_url``) and always passed after ``--``. Git itself runs with
no system or user configuration, no terminal prompts, hooks switched off and
only the transports we allow. Credentials reach git through an askpass
helper reading environment variables set for that one subprocess: never in a
URL, an argument list or a log line, and redacted from every error.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_URL_LENGTH = 2048
REDACTED = "[redacted]"

# Variables the worker's environment may lend git; everything else (API keys, DATABASE_URL...) stays out.
PASSED_THROUGH = (
    "PATH", "SSH_AUTH_SOCK", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
)  # fmt: skip

ASKPASS = """#!/bin/sh
# Git asks "Username for ...:" then "Password for ...:"; the answers live in this process's environment only.
case "$1" in
  [Uu]sername*) printf '%s\\n' "$SLIPWAY_GIT_USERNAME" ;;
  *) printf '%s\\n' "$SLIPWAY_GIT_PASSWORD" ;;
esac
"""

_HELPER_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]/]+\]|[^@/:\[\]]+):(?P<path>.+)$")
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
_USERINFO = re.compile(r"(://)[^/@\s]+@")


class GitError(Exception):
    """A git command failed; the message is for a person and holds no credential."""


class RepoURLError(ValueError):
    """A repository URL was refused; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class GitCredentials:
    """HTTP(S) credentials: a username (``x-access-token`` for most forges) and a token."""

    username: str
    password: str = field(repr=False)

    def secrets(self) -> list[str]:
        return [value for value in (self.password,) if len(value) >= 4]


def validate_repo_url(url: str, *, allow_local: bool) -> str:
    """``url`` normalised, or ``RepoURLError`` saying why it cannot be a repository to link."""
    candidate = url.strip()
    if not candidate:
        raise RepoURLError("Enter the repository's URL.")
    if len(candidate) > MAX_URL_LENGTH:
        raise RepoURLError(f"That URL is too long (more than {MAX_URL_LENGTH} characters).")
    if _has_control(candidate):
        raise RepoURLError("A repository URL cannot contain spaces, line breaks or control characters.")
    if candidate.startswith("-"):
        raise RepoURLError("A repository URL cannot start with '-'.")
    if _HELPER_URL.match(candidate):
        raise RepoURLError(
            "Transport helper URLs such as ext:: or fd:: are not allowed: use https:// or ssh://."
        )
    scheme = _SCHEME.match(candidate)
    if scheme:
        return _validate_scheme_url(candidate, scheme.group(1).lower(), allow_local)
    if candidate.startswith("/"):
        if not allow_local:
            raise RepoURLError("Local paths are not allowed here: use an https:// or ssh:// URL.")
        return os.path.normpath(candidate)
    scp = _SCP_LIKE.match(candidate)
    if scp:
        for part in ("user", "host", "path"):
            if (scp.group(part) or "").startswith("-"):
                raise RepoURLError(f"The {part} in a repository URL cannot start with '-'.")
        return candidate
    if allow_local:
        raise RepoURLError("Use https://, ssh://, git@host:owner/repo.git, or an absolute path.")
    raise RepoURLError(
        "That is not a repository URL: use https://host/owner/repo.git, ssh://... or git@host:owner/repo.git."
    )


def _has_control(url: str) -> bool:
    # Spaces, line breaks and control characters, typed or %-encoded (a newline once smuggled fields into git).
    return any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or bool(
        _ENCODED_CONTROL.search(url)
    )


def _validate_scheme_url(url: str, scheme: str, allow_local: bool) -> str:
    if scheme in ("git+ssh", "ssh+git"):
        url, scheme = "ssh" + url[len(scheme) :], "ssh"
    if scheme == "file":
        if not allow_local:
            raise RepoURLError("Local repositories are not allowed here: use an https:// or ssh:// URL.")
        path = unquote(urlsplit(url).path)
        if not path.startswith("/"):
            raise RepoURLError("A file:// URL needs an absolute path.")
        return os.path.normpath(path)
    if scheme == "git":
        raise RepoURLError("git:// is neither authenticated nor encrypted: use https:// or ssh://.")
    if scheme not in ("https", "http", "ssh"):
        raise RepoURLError(f"{scheme}:// is not supported: use https://, http:// or ssh://.")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise RepoURLError("A repository URL has no query string or fragment.")
    if scheme in ("https", "http") and "@" in parts.netloc:
        raise RepoURLError("Do not put credentials in the URL: give the token in the access token field.")
    if parts.password is not None:
        raise RepoURLError("Do not put a password in the URL.")
    host = parts.hostname or ""
    if not host:
        raise RepoURLError("The URL has no host.")
    if host.startswith("-") or (parts.username or "").startswith("-"):
        raise RepoURLError("The host or user in a repository URL cannot start with '-'.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise RepoURLError("The URL's port is not a number.") from None
    if parts.path in ("", "/"):
        raise RepoURLError("The URL has no repository path (such as /owner/repo.git).")
    netloc = parts.netloc.rsplit("@", 1)
    netloc[-1] = netloc[-1].lower()
    return f"{scheme}://{'@'.join(netloc)}{parts.path}"


def run_git(
    args: Sequence[str],
    cwd: Path | str | None = None,
    *,
    credentials: GitCredentials | None = None,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    allow_local: bool = False,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``git *args``; raise ``GitError`` (credentials redacted) when it fails and ``check`` is on.

    ``allow_local`` permits the file transport (local paths): for our own mirrors, or
    repositories an administrator allowed. Callers pass user-supplied paths and URLs after ``--``.
    """
    argv = ["git", *_hardening(allow_local), *args]
    full_env = _environment(credentials) | dict(env or {})
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # a timeout kills git and its helpers (ssh, git-remote-https) together
    )
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise GitError(f"git {_subcommand(args)} took longer than {timeout:g} s and was stopped") from None
    done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    if check and done.returncode != 0:
        raise GitError(redact(_explain(args, stderr, done.returncode), credentials))
    return done


def ls_remote(
    url: str, *, credentials: GitCredentials | None = None, allow_local: bool = False, timeout: float = 30
) -> dict[str, str]:
    """Ref name (``HEAD``, ``refs/heads/main``...) -> commit sha, as the repository advertises them."""
    url = validate_repo_url(url, allow_local=allow_local)
    done = _reach(["ls-remote", "--", url], url, credentials, allow_local, timeout)
    refs = {}
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            refs[ref] = sha
    return refs


def default_branch(
    url: str, *, credentials: GitCredentials | None = None, allow_local: bool = False, timeout: float = 30
) -> str | None:
    """The branch the repository's HEAD points at, or None when it has none."""
    url = validate_repo_url(url, allow_local=allow_local)
    done = _reach(["ls-remote", "--symref", "--", url, "HEAD"], url, credentials, allow_local, timeout)
    for line in done.stdout.splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: refs/heads/"):
            return target.removeprefix("ref: refs/heads/")
    return None


def check_credentials_transport(url: str, credentials: GitCredentials | None) -> None:
    """Refuse to send credentials in clear text, except to this machine (test servers)."""
    if credentials is None or not url.startswith("http://"):
        return
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise GitError(f"refusing to send credentials over plain http:// to {host}: use https://")


def redact(text: str, credentials: GitCredentials | None) -> str:
    for secret in credentials.secrets() if credentials else []:
        text = text.replace(secret, REDACTED)
    return _USERINFO.sub(rf"\1{REDACTED}@", text)


def _reach(
    args: list[str], url: str, credentials: GitCredentials | None, allow_local: bool, timeout: float
) -> subprocess.CompletedProcess[str]:
    check_credentials_transport(url, credentials)
    try:
        return run_git(args, credentials=credentials, allow_local=allow_local, timeout=timeout)
    except GitError as exc:
        raise GitError(f"could not reach repository: {exc}") from None


def _hardening(allow_local: bool) -> list[str]:
    options = [
        "protocol.allow=never",
        "protocol.https.allow=always",
        # Plain http stays allowed (an intranet forge, a test server); credentials never go over it (see above).
        "protocol.http.allow=always",
        "protocol.ssh.allow=always",
        f"protocol.file.allow={'always' if allow_local else 'never'}",
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "credential.helper=",  # no helper from anywhere may answer for us
        "submodule.recurse=false",
    ]
    return [arg for option in options for arg in ("-c", option)]


def _environment(credentials: GitCredentials | None) -> dict[str, str]:
    private = _private_dir()
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env |= {
        "HOME": str(
            private / "home"
        ),  # no ~/.gitconfig, ~/.config/git/ignore or attributes of the worker's user
        "LANG": "C",
        "LC_ALL": "C",  # English messages: we show them to people and match a few
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_ASKPASS": str(private / "askpass.sh") if credentials else "/bin/false",
    }
    if credentials:
        env |= {"SLIPWAY_GIT_USERNAME": credentials.username, "SLIPWAY_GIT_PASSWORD": credentials.password}
    return env


@cache
def _private_dir() -> Path:
    """A directory only we can read: an empty HOME for git, and the askpass helper.

    One per user, shared by every worker process (none leaves one behind when it dies).
    """
    path = Path(tempfile.gettempdir()) / f"slipway-git-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise GitError(f"{path} is not a private directory of ours: remove it")
    (path / "home").mkdir(mode=0o700, exist_ok=True)
    helper = path / "askpass.sh"
    if not helper.exists() or helper.read_text() != ASKPASS:
        # Whole or not at all: another worker may run git with it right now.
        temp = path / f".askpass.{os.getpid()}"
        temp.write_text(ASKPASS)
        temp.chmod(0o700)
        temp.replace(helper)
    return path


def _subcommand(args: Sequence[str]) -> str:
    """The git subcommand in ``args``, past global options such as ``-C path``."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-C", "-c", "--git-dir", "--work-tree"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return "command"


def _explain(args: Sequence[str], stderr: str, returncode: int) -> str:
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in stderr.strip().splitlines()]
    detail = "; ".join(line for line in lines[-5:] if line) or f"exit code {returncode}"
    return f"git {_subcommand(args)} failed: {detail}"
