"""The Celery app: the `agents` queue carries runs, `default` carries the rest."""

import os
import sys
from pathlib import Path

from celery import Celery
from kombu import Queue

# The source root (platform/) and the repository root (for the agents package).
for _path in (Path(__file__).resolve().parent.parent, Path(__file__).resolve().parent.parent.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("agents"))
app.conf.beat_schedule = {
    "recover-stalled-runs": {"task": "runs.tasks.recover_stalled_runs", "schedule": 30.0},
    "dispatch-queued-runs": {"task": "runs.tasks.dispatch_queued_runs", "schedule": 15.0},
    "reap-sandboxes": {"task": "runs.tasks.reap_sandboxes", "schedule": 60.0},
    # Catches evaluation results whose grading was never queued (a lost hook).
    "grade-pending-evaluations": {"task": "evals.tasks.grade_pending", "schedule": 60.0},
}
app.autodiscover_tasks()
