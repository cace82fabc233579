"""The hardened git runner: hostile URLs, local repositories, and credentials that never leak."""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agents.git import (
    GitCredentials,
    GitError,
    RepoURLError,
    default_branch,
    ls_remote,
    run_git,
    validate_repo_url,
)

TOKEN = "ghp_s3cr3t-T0KEN-9f8e7d6c"


def make_repo(path: Path) -> tuple[Path, str]:
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args], cwd=path, check=True
        )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True
    ).stdout.strip()
    return path, head


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ext::sh -c touch% /tmp/pwned", "cannot contain spaces"),
        ("ext::sh%20-c%20id", "Transport helper URLs such as ext:: or fd:: are not allowed"),
        ("fd::17", "Transport helper URLs"),
        ("--upload-pack=touch${IFS}/tmp/pwned", "cannot start with '-'"),
        ("-oProxyCommand=id", "cannot start with '-'"),
        ("https://user:hunter2@github.com/acme/widgets.git", "Do not put credentials in the URL"),
        ("https://ghp_token@github.com/acme/widgets.git", "Do not put credentials in the URL"),
        ("https://github.com/acme/widgets.git\n--upload-pack=id", "line breaks or control characters"),
        ("https://github.com/acme/%0awidgets.git", "control characters"),
        ("https://github.com/acme/\x00widgets.git", "control characters"),
        ("https://github.com/" + "a" * 2048, "too long"),
        ("ssh://-oProxyCommand=id@example.com/repo.git", "cannot start with '-'"),
        ("git@-oProxyCommand=id:repo.git", "host in a repository URL cannot start with '-'"),
        ("ssh://example.com:22x/repo.git", "port is not a number"),
        ("git://github.com/acme/widgets.git", "git:// is neither authenticated nor encrypted"),
        ("ftp://example.com/repo.git", "ftp:// is not supported"),
        ("https://github.com/", "no repository path"),
        ("https://github.com/acme/widgets.git?x=1", "no query string"),
        ("/srv/git/widgets.git", "Local paths are not allowed here"),
        ("file:///srv/git/widgets.git", "Local repositories are not allowed here"),
        ("widgets", "That is not a repository URL"),
        ("   ", "Enter the repository's URL."),
    ],
)
def test_a_hostile_or_malformed_url_is_refused_with_a_reason(url: str, message: str):
    with pytest.raises(RepoURLError, match=None) as refused:
        validate_repo_url(url, allow_local=False)

    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("  https://GitHub.com/acme/widgets.git  ", "https://github.com/acme/widgets.git"),
        ("http://git.intranet:8080/acme/widgets", "http://git.intranet:8080/acme/widgets"),
        ("ssh://git@Example.com:2222/acme/widgets.git", "ssh://git@example.com:2222/acme/widgets.git"),
        ("git+ssh://git@example.com/acme/widgets.git", "ssh://git@example.com/acme/widgets.git"),
        ("git@github.com:acme/widgets.git", "git@github.com:acme/widgets.git"),
        ("https://[::1]:8443/acme/widgets.git", "https://[::1]:8443/acme/widgets.git"),
    ],
)
def test_an_ordinary_url_is_accepted_and_normalised(url: str, normalised: str):
    assert validate_repo_url(url, allow_local=False) == normalised


def test_a_local_path_is_accepted_only_where_allowed():
    assert validate_repo_url("/srv/git/../git/widgets.git", allow_local=True) == "/srv/git/widgets.git"
    assert validate_repo_url("file:///srv/git/widgets.git", allow_local=True) == "/srv/git/widgets.git"
    with pytest.raises(RepoURLError, match="absolute path"):
        validate_repo_url("srv/git/widgets.git", allow_local=True)


def test_ls_remote_lists_a_local_repositorys_refs_when_allowed(tmp_path: Path):
    repo, head = make_repo(tmp_path / "repo")

    refs = ls_remote(str(repo), allow_local=True)

    assert refs == {"HEAD": head, "refs/heads/main": head}
    assert default_branch(str(repo), allow_local=True) == "main"


def test_ls_remote_refuses_a_local_repository_when_not_allowed(tmp_path: Path):
    repo, _ = make_repo(tmp_path / "repo")

    with pytest.raises(RepoURLError, match="Local paths are not allowed"):
        ls_remote(str(repo))


def test_git_itself_refuses_the_file_transport_unless_allowed(tmp_path: Path):
    repo, _ = make_repo(tmp_path / "repo")

    with pytest.raises(GitError, match="transport 'file' not allowed"):
        run_git(["ls-remote", "--", str(repo)])


def test_a_missing_repository_says_it_could_not_be_reached(tmp_path: Path):
    with pytest.raises(
        GitError,
        match="^could not reach repository: git ls-remote failed: .*does not appear to be a git repository",
    ):
        ls_remote(str(tmp_path / "nothing-here"), allow_local=True)


def test_an_option_passed_after_the_double_dash_is_only_a_name(tmp_path: Path):
    marker = tmp_path / "pwned"

    with pytest.raises(GitError):
        run_git(["ls-remote", "--", f"--upload-pack=touch {marker}", "HEAD"], allow_local=True)

    assert not marker.exists()


def test_the_workers_own_git_configuration_and_environment_do_not_leak_in(tmp_path: Path, monkeypatch):
    repo, head = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Leaky Worker\n[alias]\n\tboom = !touch boom\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-reach-git")

    assert run_git(["config", "user.name"], cwd=repo, check=False).returncode == 1
    assert run_git(["rev-parse", "HEAD"], cwd=repo).stdout.strip() == head
    assert "OPENAI_API_KEY" not in run_git(["var", "-l"], cwd=repo, check=False).stdout
    assert "sk-must-not-reach-git" not in subprocess_env_of_git(repo)


def subprocess_env_of_git(repo: Path) -> str:
    """The environment a git subprocess sees, through git's own `!` alias mechanism."""
    return run_git(["-c", "alias.env=!env", "env"], cwd=repo).stdout


class FakeForge(ThreadingHTTPServer):
    """A smart-HTTP git server that wants Basic auth, and checks every process's argv for the token."""

    def __init__(self, repo: Path, token: str = TOKEN) -> None:
        super().__init__(("127.0.0.1", 0), ForgeHandler)
        self.repo = repo
        self.token = token
        self.authorizations: list[str | None] = []
        self.token_in_argv = False
        self.error_message: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/acme/widgets.git"


class ForgeHandler(BaseHTTPRequestHandler):
    server: FakeForge

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        forge = self.server
        auth = self.headers.get("Authorization")
        forge.authorizations.append(auth)
        forge.token_in_argv |= token_in_any_argv(forge.token)
        if self.path.startswith("/slow"):
            time.sleep(3)
        expected = "Basic " + base64.b64encode(f"x-access-token:{forge.token}".encode()).decode()
        if auth != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="forge"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = pkt(b"# service=git-upload-pack\n") + b"0000"
        if forge.error_message:
            body += pkt(f"ERR {forge.error_message}\n".encode())
        else:
            body += subprocess.run(
                ["git", "upload-pack", "--stateless-rpc", "--advertise-refs", str(forge.repo)],
                capture_output=True,
            ).stdout
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def token_in_any_argv(token: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if token.encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[FakeForge]:
    repo, _ = make_repo(tmp_path / "served")
    server = FakeForge(repo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_credentials_reach_the_server_through_askpass_and_never_an_argument_list(forge: FakeForge):
    refs = ls_remote(forge.url, credentials=GitCredentials("x-access-token", TOKEN))

    assert refs["refs/heads/main"] == refs["HEAD"]
    assert forge.authorizations[0] is None  # git first asks without, as it should
    assert (
        forge.authorizations[-1] == "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    )
    assert not forge.token_in_argv


def test_without_credentials_a_private_repository_fails_without_prompting(forge: FakeForge):
    with pytest.raises(GitError, match="could not reach repository"):
        ls_remote(forge.url, timeout=10)


def test_wrong_credentials_fail_and_the_error_holds_no_token(forge: FakeForge):
    wrong = "ghp_wrong-T0KEN-0000"

    with pytest.raises(GitError) as failed:
        ls_remote(forge.url, credentials=GitCredentials("x-access-token", wrong))

    assert "Authentication failed" in str(failed.value) and wrong not in str(failed.value)
    assert not forge.token_in_argv and not token_in_any_argv(wrong)


def test_a_credential_echoed_back_by_the_server_is_redacted_from_the_error(forge: FakeForge):
    forge.error_message = f"access denied for token {TOKEN}"

    with pytest.raises(GitError) as failed:
        ls_remote(forge.url, credentials=GitCredentials("x-access-token", TOKEN))

    assert TOKEN not in str(failed.value)
    assert "access denied for token [redacted]" in str(failed.value)


def test_credentials_are_never_sent_over_plain_http_to_another_machine():
    with pytest.raises(GitError, match="refusing to send credentials over plain http:// to git.example.com"):
        ls_remote(
            "http://git.example.com/acme/widgets.git", credentials=GitCredentials("x-access-token", TOKEN)
        )


def test_a_git_that_hangs_is_stopped_at_its_timeout(forge: FakeForge):
    slow = forge.url.replace("/acme/", "/slow/")
    started = time.monotonic()

    with pytest.raises(GitError, match="took longer than 1 s"):
        ls_remote(slow, timeout=1)

    assert time.monotonic() - started < 2.5
