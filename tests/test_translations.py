"""The app speaks French (issue 14 item 4): a complete catalogue, used everywhere.

The French pages of the admin and a command's French output must not contain
any English text of ours: every msgid of the catalogue that shows in the
English rendering must be gone from the French one. ``makemessages`` run on
the sources finds exactly the catalogue's msgids, so no new string is left
untranslated (or unmarked strings would not be caught: see the form-label test
and the page tests, which fail on text that is not in the catalogue only when
it is one of its msgids).
"""

from __future__ import annotations

import ast
import gettext
import html
import os
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

import django_apiauth
from django_apiauth.forms import ApiCredentialForm
from django_apiauth.models import ApiCredential, NotificationDelivery

ROOT = Path(__file__).resolve().parent.parent
# The package as imported (the checkout, or the installed wheel under tox): the
# catalogue ships in the wheel.
PACKAGE = Path(django_apiauth.__file__).resolve().parent
PO = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def po_entries(path: Path) -> dict[str, list[str]]:
    """msgid -> its msgstr(s), from a .po file (plural msgids keyed by the singular)."""
    entries: dict[str, list[str]] = {}
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r"^(msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            else:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = [v for k, v in fields.items() if k.startswith("msgstr")]
    return entries


CATALOGUE = po_entries(PO)


def visible_text(page: str) -> str:
    """A page's text as a reader sees it: the text between tags, and tooltips."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    tooltips = " ".join(re.findall(r'title="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + tooltips)


def english_left(english: str, french: str) -> list[str]:
    """Our msgids shown in the English rendering that are still there in French."""
    left = []
    for msgid, translations in CATALOGUE.items():
        if msgid in translations:  # the same in French (e.g. "OK", "UID")
            continue
        pattern = r"(?<!\w)" + re.escape(msgid.strip()) + r"(?!\w)"
        if re.search(pattern, english, re.IGNORECASE) and re.search(pattern, french, re.IGNORECASE):
            left.append(msgid)
    return left


def test_every_msgid_has_a_french_translation():
    untranslated = [msgid for msgid, strs in CATALOGUE.items() if not all(strs)]
    assert untranslated == []
    assert "#, fuzzy" not in PO.read_text(encoding="utf-8")


def test_the_compiled_catalogue_is_the_po_file():
    with MO.open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    def singular(msgid: str, strs: list[str]) -> str:
        # A plural entry through ngettext: gettext() only falls back to its singular
        # form from Python 3.11 on.
        if len(strs) > 1:
            return catalogue.ngettext(msgid, msgid, 1)
        return catalogue.gettext(msgid)

    stale = [msgid for msgid, strs in CATALOGUE.items() if singular(msgid, strs) != strs[0]]
    assert stale == []


def test_makemessages_finds_exactly_the_catalogues_msgids(tmp_path):
    if shutil.which("xgettext") is None:
        pytest.skip("makemessages needs GNU gettext (apt-get install gettext)")
    copy = tmp_path / "django_apiauth"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "fr", "--no-location"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    made = po_entries(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po")
    assert set(made) - set(CATALOGUE) == set(), "strings marked but not in the catalogue"
    assert set(CATALOGUE) - set(made) == set(), "catalogue entries no longer in the code"


def test_form_labels_are_capitalised():
    with translation.override("en"):
        labels = {name: str(field.label) for name, field in ApiCredentialForm().fields.items()}
    assert [name for name, label in labels.items() if not label[:1].isupper()] == []


@pytest.fixture
def delivery(db):
    return NotificationDelivery.objects.create(
        credential="shop-fr",
        scheme="hash",
        outcome=NotificationDelivery.Outcome.ERROR,
        reason="ValueError: the order is unknown",
        notification_id="pay_1",
        reference="order-42",
        handler="signals",
    )


def rendered(client, url: str, language: str) -> str:
    with translation.override(language):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return visible_text(response.content.decode())


def admin_urls(credential: ApiCredential, delivery: NotificationDelivery) -> list[str]:
    return [
        reverse("admin:django_apiauth_apicredential_changelist"),
        reverse("admin:django_apiauth_apicredential_add"),
        reverse("admin:django_apiauth_apicredential_change", args=[credential.pk]),
        reverse("admin:django_apiauth_notificationdelivery_changelist"),
        reverse("admin:django_apiauth_notificationdelivery_change", args=[delivery.pk]),
    ]


@pytest.mark.parametrize(
    "page", ["changelist", "add", "change", "delivery log", "delivery"], ids=str
)
def test_the_french_admin_page_shows_no_english_string_of_ours(
    page, admin_client, staging_credential, delivery
):
    urls = dict(
        zip(
            ["changelist", "add", "change", "delivery log", "delivery"],
            admin_urls(staging_credential, delivery),
            strict=True,
        )
    )
    english = rendered(admin_client, urls[page], "en")
    french = rendered(admin_client, urls[page], "fr")
    assert english_left(english, french) == []
    assert english != french


def test_the_french_admin_page_uses_the_catalogue(admin_client, staging_credential):
    url = reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk])
    french = rendered(admin_client, url, "fr")
    for msgid in ("Dashboard password", "Signature (JWT)", "Test connectivity"):
        assert CATALOGUE[msgid][0] in french, msgid


def test_a_commands_output_in_french_has_no_english_string_of_ours(staging_credential):
    outputs = {}
    for language in ("en", "fr"):
        out = StringIO()
        with translation.override(language):
            call_command("apiauth_rotate_keys", "--dry-run", stdout=out)
        outputs[language] = out.getvalue()
    assert english_left(outputs["en"], outputs["fr"]) == []
    assert CATALOGUE["Dry run: nothing changed."][0] in outputs["fr"]


def test_system_check_messages_in_french(settings):
    from django_apiauth.checks import check_settings

    settings.APIAUTH = {**settings.APIAUTH, "REFRESH_MARGN": 60}
    with translation.override("fr"):
        (warning,) = [m for m in check_settings() if m.id == "django_apiauth.W003"]
    assert warning.msg == (
        "APIAUTH contient des clés inconnues : REFRESH_MARGN (vouliez-vous dire REFRESH_MARGIN ?)."
    )
    assert (
        warning.hint
        == CATALOGUE["Check the spelling against the settings reference in the documentation."][0]
    )


def test_a_bad_setting_is_reported_in_french_by_the_system_checks(settings):
    from django_apiauth.checks import check_settings

    settings.APIAUTH = {**settings.APIAUTH, "MAX_RETRIES": "2"}
    with translation.override("fr"):
        (error,) = [m for m in check_settings() if m.id == "django_apiauth.E006"]
    assert error.msg == (
        "APIAUTH['MAX_RETRIES'] doit être un nombre entier de nouvelles tentatives "
        "(0 ou plus), reçu '2'"
    )
    assert str(error.hint) == CATALOGUE["Use a whole number such as 2 (0 disables retries)."][0]


def test_a_bad_setting_raises_in_english_whatever_the_language(settings):
    from django_apiauth.conf import api_settings
    from django_apiauth.exceptions import ConfigurationError

    settings.APIAUTH = {**settings.APIAUTH, "MAX_RETRIES": "2"}
    with translation.override("fr"), pytest.raises(ConfigurationError) as raised:
        api_settings.validated("MAX_RETRIES")
    assert str(raised.value) == (
        "APIAUTH['MAX_RETRIES'] must be a whole number of retries (0 or more), got '2'"
    )


def test_contradictory_settings_are_reported_in_french(settings):
    from django_apiauth.checks import check_token_timing

    settings.APIAUTH = {**settings.APIAUTH, "LOCK_TIMEOUT": 60, "REFRESH_MARGIN": 60}
    with translation.override("fr"):
        (error,) = [m for m in check_token_timing() if m.id == "django_apiauth.E022"]
    assert error.msg.startswith("APIAUTH['LOCK_TIMEOUT'] (60s) n'est pas plus court que")
    assert (
        error.hint == "Rendez LOCK_TIMEOUT plus court que REFRESH_MARGIN (par défaut : 10 et 60)."
    )


def test_a_check_summary_is_in_french():
    from django_apiauth.clients.check import CheckResult

    ok = CheckResult(True, "token", 200, 87.2, "token valid for 600s")
    failed = CheckResult(False, latency_ms=15000.0, detail="")
    with translation.override("fr"):
        assert ok.summary == "OK en 87 ms (HTTP 200, token valid for 600s)"
        assert failed.summary == "échec : aucun détail (15000 ms)"
    assert ok.summary == "OK in 87 ms (HTTP 200, token valid for 600s)"


def test_an_undecryptable_credential_is_reported_in_french(staging_credential):
    from django_apiauth.connectivity import check_credentials
    from tests.helpers import write_raw_column

    # As a restore under another key ring would leave it.
    write_raw_column(staging_credential.pk, "api_secret", "v1:nokey:broken")
    rows = ApiCredential.objects.filter(pk=staging_credential.pk)
    with translation.override("fr"):
        (result,) = check_credentials(rows, save=False)
        assert result.summary.startswith(
            "échec : les secrets ne peuvent pas être déchiffrés avec les clés"
        )


def test_a_refused_base_url_is_a_french_form_error(db, settings):
    form_data = {"name": "shop-fr", "environment": "", "base_url": "http://api.example.com"}
    with translation.override("fr"):
        form = ApiCredentialForm(data=form_data)
        assert not form.is_valid()
        assert form.errors["base_url"] == [
            "'http://api.example.com' utilise http:// en clair ; "
            "les identifiants ne circulent que sur https://"
        ]


def test_an_insecure_url_raises_in_english_whatever_the_language(settings):
    from django_apiauth.exceptions import InsecureTransportError
    from django_apiauth.transport.endpoints import check_url_is_secure

    with translation.override("fr"), pytest.raises(InsecureTransportError) as raised:
        check_url_is_secure("http://api.example.com")
    assert str(raised.value) == (
        "'http://api.example.com' uses plain http://; credentials only travel over https://"
    )


def words_of(text: str) -> set[str]:
    """The words of ``text``: paths, codes, quoted names and placeholders are no words."""
    text = re.sub(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-z]", " ", text)
    kept = [token for token in text.split() if not re.search(r"[/_“”]", token)]
    return {word.lower() for word in re.findall(r"[^\W\d_]{3,}", " ".join(kept))}


#: Words of our msgids that no French translation uses: English, if a French page shows them.
ENGLISH_WORDS = set().union(*map(words_of, CATALOGUE)) - set().union(
    *(words_of(text) for texts in CATALOGUE.values() for text in texts)
)


def english_words_in(text: str) -> set[str]:
    return words_of(text) & ENGLISH_WORDS


def checked_in(client, credential, language: str) -> tuple[str, str]:
    """Run "Test connectivity" in ``language``: the message and the change list's rows."""
    with translation.override(language):
        response = client.post(
            reverse("admin:django_apiauth_apicredential_changelist"),
            {"action": "test_connectivity", "_selected_action": [credential.pk]},
            follow=True,
        )
    page = response.content.decode()
    (message,) = [str(m) for m in response.context["messages"]]
    rows = re.search(r'(?s)<table id="result_list">.*?</table>', page).group(0)
    return message, visible_text(rows)


@pytest.mark.parametrize("case", ["token", "check path", "invalid_client", "check path 404"])
def test_a_connectivity_check_in_french_shows_no_english_word_of_ours(
    case, admin_client, staging_credential, staging_provider, apiauth
):
    if case.startswith("check path"):
        apiauth(CHECK_PATH="/api/orders" if case.endswith("404") else "/api/merchant")
        staging_provider.add_bearer_endpoint("GET", "/api/orders", status=404, body="Not Found")
    if case == "invalid_client":
        staging_provider.api_secret = "rotated-on-the-provider-side"

    english = checked_in(admin_client, staging_credential, "en")
    french = checked_in(admin_client, staging_credential, "fr")

    assert english_words_in(" ".join(english)), english  # the probe sees English...
    assert english_words_in(" ".join(french)) == set(), french  # ...and there is none
    if case == "check path 404":
        assert "HTTP 404" in french[0]
    if case == "invalid_client":
        assert "invalid_client" in french[0]
