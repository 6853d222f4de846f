"""The reference app's password hasher: PBKDF2 at 100,000 iterations instead of Django's 1M.

Every simulated user logs in once; at Django's default cost one login is ~190 ms of server
CPU, so a one-minute demo on two cores spends its p95 on logins and nothing else shows.
Real projects keep Django's default; perflab's report shows login cost when it matters.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class DemoPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_demo"
    iterations = 100_000
