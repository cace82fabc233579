from pathlib import Path

from agents.workspace import MirrorCache, prepare_workspace
from runs.tasks import stock_workspaces


def spares_of(mirror: Path) -> list[Path]:
    folder = mirror.with_name(mirror.name.removesuffix(".git") + ".spares")
    return list(folder.glob("[!.]*")) if folder.exists() else []


def test_spare_workspaces_are_stocked_for_the_project_and_adopted_by_the_next_runs(project, settings):
    settings.SLIPWAY_SPARE_WORKSPACES = 2
    assert stock_workspaces(project.pk) == 0  # no mirror yet: nothing to stock
    mirror = MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR)).ensure(project.repo_url, f"project-{project.pk}", allow_local=True)
    assert stock_workspaces(project.pk) == 2
    assert stock_workspaces(project.pk) == 0  # the stock is full
    assert len(spares_of(mirror)) == 2
    workspace = prepare_workspace(mirror, Path(settings.SLIPWAY_WORKSPACE_DIR) / "run-1", base="main", branch="slipway/1-x/1")
    assert len(spares_of(mirror)) == 1  # one adopted, one in reserve for the next run
    assert stock_workspaces(project.pk) == 1
    assert (workspace.path / "textstats.py").exists()
    assert workspace.git("status", "--porcelain") == ""
