"""The reference project's settings for tests: the same app, a fast password hasher."""

from perflab.demo.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
