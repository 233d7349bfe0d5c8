"""A real browser walks through the admin: add a credential, test it, see the result.

Drives Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run``) with
Playwright against pytest-django's live server, which checks the credential
against a live sandbox provider on loopback.
"""

from __future__ import annotations

import os

import pytest

from django_apiauth.models import ApiCredential
from tests.services import services_required

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's
# hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if services_required():
            pytest.fail(f"{reason}; APIAUTH_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, which makes
    # Django refuse ORM calls here; the test's own ORM calls are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_add_a_credential_and_test_its_connectivity_in_a_browser(
    live_server, admin_user, sandbox_provider, settings, browser_page, tmp_path
):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}
    account = sandbox_provider.state.add_account()
    page = browser_page

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    page.goto(f"{live_server.url}/admin/django_apiauth/apicredential/add/")
    page.fill("#id_name", "sandbox-shop")
    page.fill("#id_base_url", sandbox_provider.url)
    page.fill("#id_api_key", account.api_key)
    page.fill("#id_api_secret", account.api_secret)
    page.fill("#id_merchant_uid", account.merchant_uid)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    credential = ApiCredential.objects.get(name="sandbox-shop")
    assert credential.api_secret == account.api_secret

    page.check(f"input[name=_selected_action][value='{credential.pk}']")
    page.select_option("select[name=action]", "test_connectivity")
    page.click("button[name=index]")
    message = page.wait_for_selector(".messagelist .success")
    page.screenshot(path=str(tmp_path / "admin-test-connectivity.png"), full_page=True)

    assert message.inner_text().startswith("“sandbox-shop”: OK in ")
    assert page.locator(".apiauth-badge-ok").count() == 1
    assert sandbox_provider.state.snapshot()["tokens_issued"] == 1
    html = page.content()
    assert account.api_key not in html
    assert account.api_secret not in html
    assert (tmp_path / "admin-test-connectivity.png").stat().st_size > 0


def test_the_admin_in_french_shows_no_english_string_of_ours(
    live_server, admin_user, settings, browser_page, tmp_path
):
    from tests.test_translations import english_left

    credential = ApiCredential.objects.create(
        name="shop-fr", environment="staging", api_key="key_0123456789abcd", api_secret="s"
    )
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    url = f"{live_server.url}/admin/django_apiauth/apicredential/{credential.pk}/change/"
    texts = {}
    for language in ("en", "fr"):
        settings.LANGUAGE_CODE = language  # no LocaleMiddleware: the site's language
        page.goto(url)
        texts[language] = page.inner_text("body")
    screenshot = tmp_path / "admin-change-form-fr.png"
    page.screenshot(path=str(screenshot), full_page=True)

    assert "Mot de passe du tableau de bord" in texts["fr"]
    assert english_left(texts["en"], texts["fr"]) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


OVERFLOWING_CELLS = """() => [...document.querySelectorAll('#result_list th, #result_list td')]
    .filter(cell => cell.scrollWidth > cell.clientWidth + 1)
    .map(cell => cell.className + ': ' + cell.innerText.slice(0, 40))"""


def test_the_change_list_fits_1280_px_in_french_and_english(
    live_server, admin_user, settings, browser_page, tmp_path
):
    from django.utils import timezone

    for name, ok, detail in [
        (
            "boutique-france-principale",
            True,
            "OK en 231 ms (HTTP 200, jeton valide ; GET /api/merchant a répondu 200)",
        ),
        (
            "boutique-allemagne",
            False,
            "échec : le fournisseur a refusé la clé et le secret "
            "d\u2019API (invalid_client) (HTTP 401, 41 ms)",
        ),
    ]:
        ApiCredential.objects.create(
            name=name,
            base_url="https://sandbox-payments.provider-example.com",
            api_key="key_0123456789abcd",
            api_secret="s",
            merchant_uid="mer_8ec99f9a",
            last_check_at=timezone.now(),
            last_check_ok=ok,
            last_check_detail=detail,
        )
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ALLOWED_HOSTS": [*settings.APIAUTH.get("ALLOWED_HOSTS", []), "*.provider-example.com"],
    }
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    for language in ("en", "fr"):
        settings.LANGUAGE_CODE = language  # no LocaleMiddleware: the site's language
        page.goto(f"{live_server.url}/admin/django_apiauth/apicredential/")
        page.wait_for_selector("#result_list")
        screenshot = tmp_path / f"admin-change-list-{language}.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert page.evaluate(OVERFLOWING_CELLS) == [], language
        # A usual French detail is shown whole (wrapped), not cut before its status.
        assert "…" not in page.inner_text("#result_list"), language
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (language, widths)
