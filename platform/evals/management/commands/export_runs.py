"""Export a team's finished runs as JSONL, streamed from the database (the same lines as the web page)."""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from agents.export import FORMATS
from evals.exporting import OUTCOMES, Filters, Lines
from projects.models import Project
from runs.models import ModelConfig


class Command(BaseCommand):
    help = "Write finished runs as OpenAI fine-tuning, TRL conversational or SWE-bench prediction JSONL."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--team", required=True, help="The team's slug.")
        parser.add_argument("--format", choices=list(FORMATS), default="openai")
        parser.add_argument("--project", help="A project's name.")
        parser.add_argument("--model", help="A model configuration's name.")
        parser.add_argument(
            "--since", type=date.fromisoformat, help="First day (YYYY-MM-DD) the runs finished on."
        )
        parser.add_argument(
            "--until", type=date.fromisoformat, help="Last day (YYYY-MM-DD) the runs finished on."
        )
        parser.add_argument("--outcome", choices=list(OUTCOMES), default="any")
        parser.add_argument(
            "--no-extras",
            action="store_true",
            help="Leave out reward and metadata (OpenAI's upload wants that).",
        )
        parser.add_argument("-o", "--output", help="File to write; standard output when left out.")

    def handle(self, *args: Any, **options: Any) -> None:
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"no team with the slug {options['team']!r}")
        filters = Filters(
            project=self._pk(Project, team, options["project"]),
            model=self._pk(ModelConfig, team, options["model"]),
            since=options["since"],
            until=options["until"],
            outcome=options["outcome"],
        )
        lines = Lines(team.pk, filters, options["format"], extras=not options["no_extras"])
        output = open(options["output"], "wb") if options["output"] else sys.stdout.buffer  # noqa: SIM115
        try:
            for line in lines:
                output.write(line)
        finally:
            if options["output"]:
                output.close()
            else:
                output.flush()
        skipped = "".join(f"; {n} skipped: {why}" for why, n in lines.skips.items())
        self.stderr.write(f"{lines.written} runs written{skipped}")

    def _pk(self, model: Any, team: Team, name: str | None) -> int | None:
        if not name:
            return None
        found = model.objects.filter(team=team, name=name).first()
        if found is None:
            raise CommandError(f"no {model._meta.verbose_name} called {name!r} in {team.name}")
        return int(found.pk)
