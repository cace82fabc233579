"""Docker's second channel: the attach stream through dockerd, for remote daemons and runtimes like runsc."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.sandbox import SandboxError
from agents.sandbox.docker import DockerBackend
from tests.agents.sandbox.conftest import IMAGE, make_backend, spec_for


def test_the_attach_channel_runs_commands_streams_and_moves_files(state_dir: Path, tmp_path: Path):
    make_backend("docker", state_dir)  # fails with the reason when docker or the image is missing
    chunks: list[str] = []

    with DockerBackend(image=IMAGE, channel="attach").start(spec_for(tmp_path)) as box:
        done = box.exec("echo one; echo two >&2; exit 4", on_output=chunks.append)
        big = box.exec("head -c 3000000 /dev/zero | tr '\\0' y")
        box.write_file("data.bin", bytes(range(256)))

        assert (done.exit_code, done.output, "".join(chunks)) == (4, "one\ntwo\n", "one\ntwo\n")
        assert big.truncated and "[output truncated: 3000000 bytes" in big.output
        assert box.read_file("data.bin") == bytes(range(256))


def test_an_unknown_channel_is_refused():
    with pytest.raises(SandboxError, match="unknown docker channel 'pigeon'"):
        DockerBackend(channel="pigeon")
