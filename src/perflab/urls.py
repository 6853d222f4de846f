"""``path("perf/", include("perflab.urls"))``: the probe's JSON API and the dashboard."""

from django.urls import path

from perflab.api import views
from perflab.dashboard.urls import urlpatterns as dashboard_urlpatterns

app_name = "perflab"

urlpatterns = [
    path("api/routes/", views.routes, name="routes"),
    path("api/requests/", views.requests, name="requests"),
    path("api/requests/<int:row_id>/", views.request_detail, name="request"),
    path("api/requests/<int:row_id>/profile/", views.request_profile, name="request-profile"),
    path("api/request-id/<str:request_id>/", views.request_by_id, name="request-by-id"),
    path("api/sql/", views.sql, name="sql"),
    path("api/findings/", views.findings, name="findings"),
    path("api/explain/", views.explain_view, name="explain"),
    path("api/status/", views.status, name="status"),
    path("api/urlpatterns/", views.urlpatterns, name="urlpatterns"),
    *dashboard_urlpatterns,
]
