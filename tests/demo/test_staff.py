"""The reference app's staff login for the dashboard: made once per data directory, through
Django's own login page, with CSRF."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from perflab.demo.staff import LOGIN_PATH, PASSWORD_FILE, STAFF_USERNAME, staff_login
from perflab.mount import URL_PREFIX

pytestmark = pytest.mark.django_db


def test_the_staff_user_is_made_once_with_the_data_directorys_password(tmp_path):
    username, password = staff_login(tmp_path)
    assert username == STAFF_USERNAME
    assert (tmp_path / PASSWORD_FILE).read_text().strip() == password
    assert oct((tmp_path / PASSWORD_FILE).stat().st_mode & 0o777) == "0o600"
    assert len(password) >= 32
    user = get_user_model().objects.get(username=username)
    assert user.is_staff and user.is_active and user.check_password(password)
    # Again (a restart): the same password, the same user.
    assert staff_login(tmp_path) == (username, password)
    assert get_user_model().objects.filter(username=username).count() == 1


def test_a_demoted_or_changed_staff_user_is_restored(tmp_path):
    _, password = staff_login(tmp_path)
    user = get_user_model().objects.get(username=STAFF_USERNAME)
    user.is_staff = False
    user.set_password("something else")
    user.save()
    staff_login(tmp_path)
    user.refresh_from_db()
    assert user.is_staff and user.check_password(password)


def test_another_data_directory_has_its_own_password(tmp_path):
    _, first = staff_login(tmp_path / "one")
    _, second = staff_login(tmp_path / "two")
    assert first != second


def test_the_login_page_logs_staff_in_with_a_csrf_token_and_goes_to_the_dashboard(tmp_path):
    username, password = staff_login(tmp_path)
    client = Client(enforce_csrf_checks=True)
    page = client.get(LOGIN_PATH, {"next": "/" + URL_PREFIX})
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    refused = Client(enforce_csrf_checks=True).post(
        LOGIN_PATH, {"username": username, "password": password}
    )
    assert refused.status_code == 403  # no CSRF token: Django's CSRF failure
    wrong = client.post(
        LOGIN_PATH, {"username": username, "password": "nope", "csrfmiddlewaretoken": token}
    )
    assert wrong.status_code == 200 and "did not match" in wrong.text
    done = client.post(
        LOGIN_PATH,
        {"username": username, "password": password, "csrfmiddlewaretoken": token,
         "next": "/" + URL_PREFIX},
    )  # fmt: skip
    assert done.status_code == 302 and done["Location"] == "/" + URL_PREFIX
    staff = get_user_model().objects.get(username=username)
    assert client.session["_auth_user_id"] == str(staff.pk)
