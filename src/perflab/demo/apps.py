from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "perflab.demo"
    label = "blog"
    verbose_name = "perflab reference blog"
    default_auto_field = "django.db.models.BigAutoField"
