"""``dashboard_settings``'s URLs: perflab's, where an app mounts them."""

from django.urls import include, path

from perflab.mount import URL_PREFIX

urlpatterns = [path(URL_PREFIX, include("perflab.urls"))]
