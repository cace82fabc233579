"""Dataset exports: the form (a small export streams back at once, a big one becomes a background
job with a progress bar), and the authenticated download of a finished job's file."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.current import current_membership
from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from agents.export import FORMATS
from evals import actions
from evals.exporting import INLINE_MAX, Lines
from evals.forms import ExportForm
from evals.models import Export, ExportStatus


def _get_export_for_user(request: HttpRequest, export_id: int) -> tuple[Export, Membership]:
    export = get_object_or_404(
        Export.objects.select_related("team"), pk=export_id, team__memberships__user=request.user
    )
    return export, membership_for(request.user, export.team_id)


@login_required
def export_page(request: HttpRequest) -> HttpResponse:
    """The export form; a small export streams straight back, a big one becomes a background job."""
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    team = membership.team
    form = ExportForm(request.POST or None, team=team)
    if request.method == "POST":
        require_role(membership, Role.MEMBER, "export runs")
        if form.is_valid():
            fmt, filters, extras = form.cleaned_data["format"], form.filters(), form.cleaned_data["extras"]
            lines = Lines(team.pk, filters, fmt, extras=extras)
            total = lines.count()
            if total > getattr(settings, "SLIPWAY_EXPORT_INLINE_MAX", INLINE_MAX):
                export = actions.do_start_export(
                    team, request.user, fmt, filters.to_dict(), extras=extras, total=total
                )
                return redirect("export_detail", export_id=export.pk)
            return _stream(request, lines, f"slipway-{team.slug}-{fmt}.jsonl")
    exports = Export.objects.filter(team=team).select_related("created_by")[:20]
    inline_max = getattr(settings, "SLIPWAY_EXPORT_INLINE_MAX", INLINE_MAX)
    context = {"nav": "evals", "form": form, "exports": exports, "inline_max": inline_max, "formats": FORMATS,
               "can_act": membership.can(Role.MEMBER)}  # fmt: skip
    return render(request, "evals/exports.html", context)


def _stream(request: HttpRequest, lines: Iterable[bytes], filename: str) -> StreamingHttpResponse:
    # Under ASGI Django reads a sync iterator whole into memory before sending it; feed it batches instead.
    content: Any = _batches(iter(lines)) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def _batches(lines: Iterator[bytes], size: int = 64) -> AsyncIterator[bytes]:
    take = sync_to_async(lambda: b"".join(itertools.islice(lines, size)), thread_sensitive=True)
    while chunk := await take():
        yield chunk


@login_required
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export, _ = _get_export_for_user(request, export_id)
    context = {
        "nav": "evals",
        "export": export,
        "formats": FORMATS,
        "running": export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING),
    }
    if request.GET.get("part") == "progress":
        return render(request, "evals/export.html#progress", context)
    return render(request, "evals/export.html", context)


@login_required
def export_download(request: HttpRequest, export_id: int) -> FileResponse:
    export, _ = _get_export_for_user(request, export_id)
    if export.status != ExportStatus.DONE or not export.path:
        raise Http404
    try:
        handle = open(export.path, "rb")  # noqa: SIM115 - FileResponse closes it
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle, as_attachment=True, filename=export.filename, content_type="application/jsonl"
    )
