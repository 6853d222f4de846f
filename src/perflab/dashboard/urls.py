"""The dashboard's URLs, mounted by ``perflab.urls`` next to the API (namespace ``perflab``).

Route names hold ``/``, ``<`` and ``[``: they travel as query parameters, not path parts."""

from django.urls import path

from perflab.dashboard import assets, overview, request, route, runs, search, sql

urlpatterns = [
    path("", overview.overview, name="dashboard"),
    path("route/", route.route_page, name="dashboard-route"),
    path("requests/<int:row_id>/", request.request_page, name="dashboard-request"),
    path("requests/<int:row_id>/profile/", request.profile_page, name="dashboard-profile"),
    path("sql/", sql.sql_page, name="dashboard-sql"),
    path("sql/<str:fingerprint_hash>/", sql.statement_page, name="dashboard-statement"),
    path("runs/", runs.runs_page, name="dashboard-runs"),
    path("runs/<str:run_id>/report/", runs.run_report, name="dashboard-run-report"),
    path("search/", search.search_page, name="dashboard-search"),
    path("assets/<str:name>", assets.asset, name="dashboard-asset"),
]
