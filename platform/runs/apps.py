from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"

    def ready(self) -> None:
        from runs import worker  # noqa: F401  (connects the worker's heartbeat signals)
