from django.urls import path

from projects import views

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_new, name="project_new"),
    path("projects/<int:project_id>/", views.project_board, name="project_board"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project_settings"),
]
