import pytest

from wachat.conftest import make_agent

pytestmark = pytest.mark.django_db


def test_an_agent_who_is_not_staff_signs_in_and_reaches_the_center(client):
    make_agent("carol")
    response = client.get("/center/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    response = client.post(
        "/accounts/login/?next=/center/",
        {"username": "carol", "password": "carol", "next": "/center/"},
    )
    assert response.status_code == 302 and response.url == "/center/"
    assert client.get("/center/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client):
    make_agent("carol")
    response = client.post("/accounts/login/", {"username": "carol", "password": "nope"})
    assert response.status_code == 200
    assert b"Wrong username or password." in response.content
