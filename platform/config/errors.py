"""Error pages that say what happened. A too-large request is 413, and nothing was stored."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _page(request: HttpRequest, status: int, heading: str, detail: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(f'<div class="notice notice-error" role="alert">{heading}: {detail}</div>', status=status)
    return render(request, "error.html", {"heading": heading, "detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return _page(
            request,
            413,
            "Too large",
            f"That request was too large to accept (the limit is {limit} MB; an intent's description may be at most "
            "50,000 characters). Nothing was saved: shorten it and try again.",
        )
    return _page(request, 400, "Bad request", "The request could not be understood. Nothing was saved.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = str(exception) if exception and str(exception) else "Your role in this team does not allow that."
    return _page(request, 403, "Not allowed", detail)
