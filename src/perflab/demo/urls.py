from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.routers import DefaultRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from perflab.demo import naive, views
from perflab.demo.staff import LOGIN_PATH
from perflab.mount import URL_PREFIX

router = DefaultRouter()
router.register("posts", views.PostViewSet, basename="post")

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/categories/", views.CategoryListView.as_view(), name="category-list"),
    path("api/tags/", views.TagListView.as_view(), name="tag-list"),
    path("api/authors/", views.AuthorListView.as_view(), name="author-list"),
    path("api/stats/", views.stats, name="stats"),
    path("api/authors/naive/", naive.NaiveAuthorListView.as_view(), name="author-list-naive"),
    path("api/", include(router.urls)),
    # The dashboard's login (/perf/ is staff only): Django's own views.
    path(LOGIN_PATH.lstrip("/"), auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]

if getattr(settings, "DEV_TOOLBAR", False):
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()

if "perflab" in settings.INSTALLED_APPS:
    urlpatterns.append(path(URL_PREFIX, include("perflab.urls")))

if "silk" in settings.INSTALLED_APPS:
    urlpatterns.append(path("silk/", include("silk.urls", namespace="silk")))
