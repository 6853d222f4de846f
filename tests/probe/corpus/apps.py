from django.apps import AppConfig


class CorpusConfig(AppConfig):
    name = "tests.probe.corpus"
    label = "corpus"
    default_auto_field = "django.db.models.BigAutoField"
