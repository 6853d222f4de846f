from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The Wagtail test site's page types (label ``site``)."""

    name = "tests.wagtail_site.site"
    label = "site"
    default_auto_field = "django.db.models.BigAutoField"
