from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/live/", views.dashboard_live, name="dashboard_live"),
    path("dashboard/definitions/", views.definitions, name="dashboard_definitions"),
    path("dashboard/export/<slug:name>.csv", views.export_csv, name="dashboard_export"),
    path("metrics", views.prometheus, name="metrics"),
]
