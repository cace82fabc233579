"""Evaluation suites from a shell: import a SWE-bench-format file, run it, read its leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from evals.actions import EvalError, do_import_suite, do_start_evaluation
from evals.leaderboard import leaderboard
from evals.models import EvalSuite
from projects.models import Project
from runs.models import ModelConfig


class Command(BaseCommand):
    help = "import: a SWE-bench-format file as a suite; run: the suite against model configurations; leaderboard: as JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["import", "run", "leaderboard"])
        parser.add_argument("--team", required=True, help="The team's slug.")
        parser.add_argument("--suite", required=True, help="The suite's name.")
        parser.add_argument("--file", type=Path, help="import: JSON Lines or a JSON array of instances.")
        parser.add_argument("--project", help="import: map every repository to this project (by name).")
        parser.add_argument("--models", help="run: model configuration names, comma-separated.")
        parser.add_argument("--attempts", type=int, default=1)
        parser.add_argument("--as-user", help="Who the audit log names (a username); nobody when left out.")

    def handle(self, *args: Any, **options: Any) -> None:
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"no team with the slug {options['team']!r}")
        actor = User.objects.filter(username=options["as_user"]).first() if options["as_user"] else None
        try:
            {"import": self.import_suite, "run": self.run_suite, "leaderboard": self.leaderboard}[
                options["action"]
            ](team, actor, options)
        except EvalError as exc:
            raise CommandError(str(exc)) from None

    def import_suite(self, team: Team, actor: Any, options: dict[str, Any]) -> None:
        if options["file"] is None:
            raise CommandError("import needs --file")
        project = None
        if options["project"]:
            project = Project.objects.filter(team=team, name=options["project"]).first()
            if project is None:
                raise CommandError(f"no project called {options['project']!r}")
        suite, report = do_import_suite(
            team, actor, options["suite"], options["file"].read_text(), project=project
        )
        self.stdout.write(f"suite {suite.pk}: {report.imported} tasks imported")
        for problem in report.problems:
            self.stderr.write(f"  {problem.where}: {problem.message}")
        for repo, count in report.unlinked.items():
            self.stderr.write(f"  {repo}: no linked project ({count} tasks); map it on the suite's page")

    def run_suite(self, team: Team, actor: Any, options: dict[str, Any]) -> None:
        names = [n.strip() for n in (options["models"] or "").split(",") if n.strip()]
        configs = list(ModelConfig.objects.filter(team=team, name__in=names))
        if len(configs) != len(set(names)):
            raise CommandError(f"unknown model configurations among {names}")
        evaluation = do_start_evaluation(self._suite(team, options), actor, configs, options["attempts"])
        self.stdout.write(f"evaluation {evaluation.pk} started")

    def leaderboard(self, team: Team, actor: Any, options: dict[str, Any]) -> None:
        rows = [
            {"model": r.label, "resolve_rate": r.resolve_rate, "resolved": r.resolved, "graded": r.graded, "pending": r.pending,
             "errors": r.errors, "empty": r.empty, "cost": float(r.cost), "tokens_per_attempt": r.mean_tokens, "wall_seconds": r.wall_seconds}
            for r in leaderboard(self._suite(team, options))
        ]  # fmt: skip
        self.stdout.write(json.dumps(rows, indent=2))

    def _suite(self, team: Team, options: dict[str, Any]) -> EvalSuite:
        suite = EvalSuite.objects.filter(team=team, name=options["suite"]).first()
        if suite is None:
            raise CommandError(f"no suite called {options['suite']!r}")
        return suite
