"""Running commands and moving files through a sandbox, for each backend."""

from __future__ import annotations

import threading
import time

import pytest

from agents.sandbox import Sandbox, SandboxError


def test_it_reports_the_exit_code(sandbox: Sandbox):
    assert sandbox.exec("exit 7").exit_code == 7
    assert sandbox.exec("true").exit_code == 0


def test_a_command_killed_by_a_signal_reports_128_plus_the_signal(sandbox: Sandbox):
    assert sandbox.exec("kill -9 $$").exit_code == 137


def test_stdout_and_stderr_arrive_interleaved(sandbox: Sandbox):
    assert sandbox.exec("echo one; echo two >&2; echo three").output == "one\ntwo\nthree\n"


def test_commands_run_in_the_workspace_unless_told_otherwise(sandbox: Sandbox):
    sandbox.exec("mkdir -p sub")

    assert sandbox.exec("pwd").output == "/workspace\n"
    assert sandbox.exec("pwd", cwd="/tmp").output == "/tmp\n"
    assert sandbox.exec("pwd", cwd="sub").output == "/workspace/sub\n"


def test_a_missing_working_directory_is_a_failed_command_not_an_error(sandbox: Sandbox):
    done = sandbox.exec("pwd", cwd="/nowhere")

    assert done.exit_code == 1 and "/nowhere" in done.output


def test_the_environment_has_the_specs_variables_and_the_calls_own(sandbox: Sandbox):
    assert sandbox.exec("echo $SLIPWAY_TEST").output == "shared\n"
    assert (
        sandbox.exec("echo $SLIPWAY_TEST $EXTRA", env={"SLIPWAY_TEST": "mine", "EXTRA": "x"}).output
        == "mine x\n"
    )
    assert sandbox.exec("echo $HOME; touch $HOME/probe && echo writable").output == "/tmp/home\nwritable\n"


def test_each_command_gets_a_fresh_shell(sandbox: Sandbox):
    sandbox.exec("export LEAK=1; cd /tmp; alias ll=ls")

    assert sandbox.exec('echo "[$LEAK]"; pwd; type ll 2>&1 | head -c 20').output.startswith(
        "[]\n/workspace\n"
    )


def test_files_persist_between_commands(sandbox: Sandbox):
    sandbox.exec("echo kept > kept.txt")

    assert sandbox.exec("cat kept.txt").output == "kept\n"


def test_binary_files_round_trip(sandbox: Sandbox):
    data = bytes(range(256)) * 1000

    sandbox.write_file("nested/dir/blob.bin", data)

    assert sandbox.read_file("nested/dir/blob.bin") == data
    assert sandbox.read_file("/workspace/nested/dir/blob.bin") == data
    assert sandbox.exec("stat -c %s nested/dir/blob.bin").output == "256000\n"


def test_reading_a_missing_file_raises_file_not_found(sandbox: Sandbox):
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("no/such/file")


def test_writing_where_the_sandbox_may_not_raises(sandbox: Sandbox):
    with pytest.raises(OSError):
        sandbox.write_file("/usr/evil", b"x")


def test_non_utf8_output_is_decoded_with_replacement(sandbox: Sandbox):
    done = sandbox.exec(r"printf 'caf\xc3\xa9 \xff\xfe bad \xc3'")

    assert done.output == "café \ufffd\ufffd bad \ufffd"


def test_output_streams_while_the_command_runs(sandbox: Sandbox):
    arrivals: list[tuple[float, str]] = []

    done = sandbox.exec(
        "echo first; sleep 0.5; echo second", on_output=lambda c: arrivals.append((time.monotonic(), c))
    )
    ended = time.monotonic()

    assert arrivals[0][1] == "first\n" and ended - arrivals[0][0] > 0.3
    assert "".join(chunk for _, chunk in arrivals) == done.output == "first\nsecond\n"


def test_an_output_callback_that_raises_stops_the_command_and_the_sandbox_stays_usable(sandbox: Sandbox):
    def refuse(chunk: str) -> None:
        raise KeyboardInterruptLike("stop")

    started = time.monotonic()
    with pytest.raises(KeyboardInterruptLike):
        sandbox.exec("echo go; sleep 30", on_output=refuse)

    assert time.monotonic() - started < 5
    assert sandbox.exec("echo next").output == "next\n"


def test_two_threads_may_run_commands_at_once(sandbox: Sandbox):
    results: dict[str, str] = {}

    def run(name: str) -> None:
        results[name] = sandbox.exec(f"sleep 0.2; echo {name}").output

    threads = [threading.Thread(target=run, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {"left": "left\n", "right": "right\n"}


def test_a_stopped_sandbox_refuses_commands(backend, workspace):
    from tests.agents.sandbox.conftest import spec_for

    box = backend.start(spec_for(workspace))
    box.stop()
    box.stop()  # twice is fine

    with pytest.raises(SandboxError, match="stopped"):
        box.exec("true")


class KeyboardInterruptLike(Exception):
    pass


def test_a_nul_byte_in_a_command_or_path_is_an_error_not_the_end_of_the_sandbox(sandbox: Sandbox):
    done = sandbox.exec("echo a\0b")

    assert done.exit_code == 126 and "null byte" in done.output
    with pytest.raises(OSError):
        sandbox.read_file("bad\0name")
    assert sandbox.exec("echo fine").output == "fine\n"


def test_what_a_command_leaves_in_the_background_ends_with_it(sandbox: Sandbox):
    sandbox.exec("sleep 300 & echo started")

    assert sandbox.exec("cat /proc/[0-9]*/comm | grep -x sleep").output == ""
