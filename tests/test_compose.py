from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_every_service_the_platform_needs():
    services = load()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "sandboxd"} <= set(services)


def test_only_the_worker_reaches_the_sandbox_daemon():
    services = load()["services"]
    reaching = {name for name, svc in services.items() if "DOCKER_HOST" in (svc.get("environment") or {})}
    assert "worker" in reaching
    assert "web" not in reaching
    assert services["worker"]["environment"]["DOCKER_HOST"].startswith("tcp://sandboxd:")


def test_no_service_mounts_the_hosts_docker_socket():
    for name, svc in load()["services"].items():
        for volume in svc.get("volumes", []):
            assert "docker.sock" not in str(volume), name


def test_the_sandbox_network_is_internal():
    assert load()["networks"]["sandbox"]["internal"] is True
