"""`manage.py seed_demo --intents 100000`: realistic teams, intents, runs and events to measure pages with."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.seed import SeedConfig, seed, vacuum
from intents.models import Intent


class Command(BaseCommand):
    help = "Create demo teams whose agents have worked for months (intents, runs, events, reviews)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--intents", type=int, default=2000, help="intents in all (default 2000)")
        parser.add_argument("--teams", type=int, default=4, help="teams, of falling sizes (default 4)")
        parser.add_argument("--days", type=int, default=180, help="how far back intents were filed (default 180)")
        parser.add_argument("--events-per-run", type=float, default=10.0, help="mean events per started run (default 10)")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
        parser.add_argument("--password", default="demo-password-1", help="password of every demo user")
        parser.add_argument("--force", action="store_true", help="add new demo teams even when the database has intents")
        parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM ANALYZE at the end")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["intents"] < 1 or options["teams"] < 1 or options["days"] < 1:
            raise CommandError("--intents, --teams and --days must be at least 1")
        if Intent.objects.exists() and not options["force"]:
            raise CommandError(
                "The database already has intents. seed_demo only ever adds new demo teams; "
                "pass --force to add them beside the existing data."
            )
        config = SeedConfig(
            intents=options["intents"],
            teams=options["teams"],
            days=options["days"],
            events_per_run=options["events_per_run"],
            seed=options["seed"],
            password=options["password"],
        )
        started = time.monotonic()
        summary = seed(config, log=self.stdout.write)
        if not options["no_vacuum"]:
            self.stdout.write("  VACUUM ANALYZE ...")
            vacuum()
        counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in summary.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {counts} in {time.monotonic() - started:.0f} s."))
        for setup in summary.teams:
            self.stdout.write(f"  {setup.team.name}: {setup.intents:,} intents; sign in as {setup.lead} / {config.password}")
