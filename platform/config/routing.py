"""Websocket routes. asgi.py wraps them in AllowedHostsOriginValidator and the session auth stack;
each consumer checks the user against the run, project or team before it joins a group."""

from django.urls import URLPattern, path

from runs import consumers

websocket_urlpatterns: list[URLPattern] = [
    path("ws/runs/<int:run_id>/", consumers.RunConsumer.as_asgi()),
    path("ws/projects/<int:project_id>/", consumers.ProjectConsumer.as_asgi()),
    path("ws/teams/<int:team_id>/", consumers.TeamConsumer.as_asgi()),
]
