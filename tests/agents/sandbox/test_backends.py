"""Choosing a backend, and what one says when it cannot work here."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.sandbox import BACKENDS, SandboxError, get_backend
from tests.agents.sandbox.conftest import IMAGE, make_backend


def test_backends_are_registered_by_dotted_path():
    assert BACKENDS == {
        "docker": "agents.sandbox.docker.DockerBackend",
        "bubblewrap": "agents.sandbox.bubblewrap.BubblewrapBackend",
    }


def test_auto_takes_docker_when_its_image_is_there_and_bubblewrap_otherwise(state_dir: Path):
    make_backend("docker", state_dir)

    assert get_backend("auto", image=IMAGE, state_dir=state_dir).name == "docker"
    assert get_backend("auto", image="slipway-no-such-image:0", state_dir=state_dir).name == "bubblewrap"


def test_auto_says_how_to_install_one_when_neither_works(tmp_path: Path):
    with pytest.raises(SandboxError) as none:
        get_backend("auto", image="slipway-no-such-image:0", bwrap="/nonexistent/bwrap", state_dir=tmp_path)

    message = str(none.value)
    assert "no sandbox backend is usable here" in message
    assert "sandbox image slipway-no-such-image:0 not found: build it with `make sandbox-image`" in message
    assert "apt-get install -y bubblewrap" in message


def test_an_unknown_backend_is_refused():
    with pytest.raises(SandboxError, match="unknown sandbox backend 'kvm'"):
        get_backend("kvm")


def test_docker_says_its_image_is_missing():
    problem = get_backend("docker", image="slipway-no-such-image:0").check()

    assert problem == "sandbox image slipway-no-such-image:0 not found: build it with `make sandbox-image`"


def test_docker_says_its_daemon_does_not_answer():
    problem = get_backend("docker", base_url="unix:///nonexistent/docker.sock").check()

    assert problem is not None and problem.startswith("the Docker daemon does not answer")


def test_bubblewrap_says_it_is_not_installed(tmp_path: Path):
    problem = get_backend("bubblewrap", bwrap="/nonexistent/bwrap", state_dir=tmp_path).check()

    assert problem == "bubblewrap is not installed: apt-get install -y bubblewrap"
