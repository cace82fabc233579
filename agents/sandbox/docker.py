"""Docker sandboxes: one container per sandbox, the exec server as its command.

The container starts with stdin open and attached (no TTY); the server's source
goes in through stdin, then we talk over a unix socket bind-mounted into the
container, or over the attach stream itself (see ``docker_streams``). The
server ends when we go away (its channel closes; ``stdin_once`` closes its
stdin), so a container whose worker died stops by itself; the reaper removes it.

Defaults: no network, uid 1000 (a root worker hands it the workspace), no
capabilities, no new privileges, a read-only root with a tmpfs /tmp of
``disk_mb``, limits on memory (swap included), CPU and processes, labels for
the reaper. ``runtime="runsc"`` adds gVisor where it is installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
from docker.types import Mount

from agents.sandbox.base import (
    LABEL_DEADLINE,
    LABEL_RUN,
    WORKSPACE,
    SandboxError,
    SandboxSpec,
)
from agents.sandbox.channel import Channel, ChannelSandbox
from agents.sandbox.docker_streams import MOUNT_POINT, AttachStream, Listener, SocketStream, is_local
from agents.sandbox.host import command_env, sandbox_labels, sandbox_user, server_argv, server_source

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "slipway-sandbox:latest"


class DockerBackend:
    name = "docker"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        runtime: str | None = None,
        base_url: str | None = None,
        network: str = "bridge",
        channel: str = "auto",
    ) -> None:
        """``image`` is what ``check`` looks for (``start`` uses the spec's); ``runtime`` an OCI
        runtime such as ``runsc``; ``base_url`` the daemon, else DOCKER_HOST or the default socket;
        ``network`` the Docker network of a sandbox whose spec allows network access; ``channel``
        how we talk to the exec server: ``socket`` (fast, local daemon with runc), ``attach``
        (anywhere) or ``auto`` (socket when the daemon is local and no runtime is named)."""
        if channel not in ("auto", "socket", "attach"):
            raise SandboxError(f"unknown docker channel {channel!r}: choose auto, socket or attach")
        self.image = image
        self.runtime = runtime or None
        self.base_url = base_url
        self.network = network
        self.use_socket = channel == "socket" or (
            channel == "auto" and is_local(base_url) and not self.runtime
        )
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                if self.base_url:
                    self._client = docker.DockerClient(base_url=self.base_url, version="auto")
                else:
                    self._client = docker.from_env(version="auto")
            except docker.errors.DockerException as exc:
                raise SandboxError(f"the Docker daemon does not answer: {exc}") from exc
        return self._client

    def check(self) -> str | None:
        try:
            self.client.ping()
        except (SandboxError, docker.errors.DockerException, OSError) as exc:
            return f"the Docker daemon does not answer ({_first_line(exc)}): start it, e.g. `dockerd --bridge=none --iptables=false`"
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            return f"sandbox image {self.image} not found: build it with `make sandbox-image`"
        except docker.errors.DockerException as exc:
            return f"cannot inspect the sandbox image {self.image}: {_first_line(exc)}"
        if self.runtime and self.runtime not in self.client.info().get("Runtimes", {}):
            return f"the Docker daemon has no runtime {self.runtime!r}: install it and list it in daemon.json"
        return None

    def start(self, spec: SandboxSpec) -> DockerSandbox:
        uid, gid = sandbox_user(spec.workspace)
        limits = spec.limits
        mounts = [Mount(WORKSPACE, str(spec.workspace.resolve()), type="bind")]
        mounts += [
            Mount(inside, str(host.resolve()), type="bind", read_only=True)
            for host, inside in spec.readonly_mounts
        ]
        options: dict[str, object] = {"env": command_env(spec)}
        listener = Listener() if self.use_socket else None
        if listener is not None:
            mounts.append(Mount(MOUNT_POINT, str(listener.folder), type="bind", read_only=True))
            options["connect"] = listener.inside
        try:
            container = self.client.containers.create(
                spec.image,
                command=server_argv("python3", options),
                stdin_open=True,  # with attach, also StdinOnce: our going away closes its stdin
                tty=False,
                user=f"{uid}:{gid}",
                working_dir="/",
                network_mode=self.network if spec.network else "none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                # exec: docker's default for a tmpfs is noexec, and builds and test runs execute from /tmp.
                tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={limits.disk_mb}m,mode=1777"},
                mounts=mounts,
                pids_limit=limits.pids,
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",  # the same: no swap to hide in
                nano_cpus=int(limits.cpus * 1e9),
                labels=sandbox_labels(spec),
                runtime=self.runtime,
                hostname="sandbox",
            )
        except docker.errors.DockerException as exc:
            if listener is not None:
                listener.close()
            if isinstance(exc, docker.errors.ImageNotFound):
                raise SandboxError(
                    f"sandbox image {spec.image} not found: build it with `make sandbox-image`"
                ) from exc
            raise SandboxError(f"cannot create a sandbox container: {_first_line(exc)}") from exc
        sandbox = DockerSandbox(self, container, spec)
        try:
            sandbox.connect(listener)
        except BaseException:
            sandbox.stop()
            raise
        return sandbox

    def reap(self, is_run_alive: Callable[[str], bool], now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        removed = []
        for container in self.client.containers.list(all=True, filters={"label": LABEL_RUN}):
            run = container.labels.get(LABEL_RUN, "")
            deadline = float(container.labels.get(LABEL_DEADLINE) or "inf")
            if now <= deadline and is_run_alive(run):
                continue
            why = "its deadline passed" if now > deadline else f"run {run} is not alive"
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                continue  # removed meanwhile, by its own worker or another reaper
            log.info("reaped docker sandbox %s: %s", container.short_id, why)
            removed.append(container.id)
        return removed


class DockerSandbox(ChannelSandbox):
    def __init__(self, backend: DockerBackend, container: Any, spec: SandboxSpec) -> None:
        self.backend = backend
        self.container = container
        self.id: str = container.id
        self.spec = spec
        self._channel: Channel | None = None
        self._stopped = False

    def connect(self, listener: Listener | None) -> None:
        api = self.backend.client.api
        # Attach before start, so nothing the server says is lost.
        raw = api.attach_socket(self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        attach = AttachStream(raw)
        try:
            self.container.start()
            if listener is None:
                self._channel = Channel(attach, self.id[:12])
                self._channel.boot(server_source())
                return
            attach.send(server_source())
            self.container.reload()
            conn = listener.accept(self.container.attrs["State"]["Pid"], attach)
        except BaseException as exc:
            attach.close()
            if listener is not None:
                listener.close()
            if isinstance(exc, docker.errors.DockerException):
                raise SandboxError(f"cannot start the sandbox container: {_first_line(exc)}") from exc
            raise
        self._channel = Channel(SocketStream(conn, attach), self.id[:12])
        self._channel.ready()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._channel is not None:
            self._channel.close()
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as exc:
            raise SandboxError(f"cannot remove sandbox container {self.id[:12]}: {_first_line(exc)}") from exc



def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
