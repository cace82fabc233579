from datetime import timedelta

from django.utils import timezone

from runs.models import Worker


def test_it_is_unhealthy_without_a_worker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "ok"}
    assert body["checks"]["broker"] == {"status": "ok"}
    assert body["checks"]["sandbox"]["status"] == "error"
    assert "no worker" in body["checks"]["sandbox"]["detail"]


def test_it_is_healthy_when_a_worker_reports_a_working_sandbox(client, db):
    Worker.objects.create(hostname="agents@here", slots=2, sandbox_backend="bubblewrap", heartbeat_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_reports_the_workers_sandbox_problem(client, db):
    Worker.objects.create(
        hostname="agents@here",
        sandbox_problem="sandbox image slipway-sandbox:latest not found: build it with `make sandbox-image`",
        heartbeat_at=timezone.now(),
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "make sandbox-image" in response.json()["checks"]["sandbox"]["detail"]


def test_a_silent_worker_does_not_count(client, db):
    Worker.objects.create(hostname="agents@old", heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert client.get("/healthz").status_code == 503


def test_it_reports_a_broken_redis(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    Worker.objects.create(hostname="agents@here", heartbeat_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "error"
