from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("projects.urls")),
    path("", include("intents.urls")),
    path("", include("runs.urls")),
    path("", include("reviews.urls")),
    path("", include("dashboard.urls")),
    path("", include("evals.urls")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
