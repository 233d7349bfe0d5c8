"""Issue 19, item 3: one URL parser for every check and every request.

``urllib.parse`` read ``https://evil.example\\.pledg.co`` as a host ending in
``.pledg.co`` while urllib3 (under requests) sends to ``evil.example``. Checks
now read URLs as urllib3 does, and a URL whose host is not a plain host name is
refused wherever it enters.
"""

import pytest
import responses
from django.core.exceptions import ValidationError
from django.core.management import call_command

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import InsecureTransportError
from django_apiauth.models import ApiCredential
from django_apiauth.transport import endpoints
from tests.helpers import SECRETS, write_raw_column

pytestmark = pytest.mark.django_db

BACKSLASH = "https://evil.example\\.pledg.co"
NOT_PLAIN = [
    BACKSLASH,
    "https://evil.example\\@api.pledg.co",
    "https://api%2epledg.co",
    "https://user@api.pledg.co",
    "https://api.pledg.co:443@evil.example",
    "https://api_x.pledg.co",
    "https://\u0430pi.pledg.co",  # a Cyrillic letter a
]


@pytest.fixture
def pledg_subdomains(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": [".pledg.co"]}


@pytest.mark.parametrize("url", NOT_PLAIN)
def test_the_endpoint_policy_refuses_a_host_that_is_not_plain(pledg_subdomains, url):
    with pytest.raises(InsecureTransportError):
        endpoints.check_url_is_secure(url)
    with pytest.raises(InsecureTransportError):
        endpoints.check_host_is_allowed(url)


def test_the_host_check_reads_the_url_as_urllib3_sends_it(pledg_subdomains):
    # urllib3 reads "evil.example?.pledg.co" as host evil.example, and so does the check.
    with pytest.raises(InsecureTransportError, match="'evil.example'"):
        endpoints.check_host_is_allowed("https://evil.example?.pledg.co")
    with pytest.raises(InsecureTransportError, match="plain host"):
        endpoints.check_host_is_allowed(BACKSLASH + "/api")


@pytest.mark.parametrize("url", NOT_PLAIN)
def test_full_clean_refuses_it_on_the_field(pledg_subdomains, url):
    with pytest.raises(ValidationError) as caught:
        ApiCredential(name="shop", base_url=url, **SECRETS).full_clean()
    assert "base_url" in caught.value.message_dict


def test_an_orm_save_refuses_it(pledg_subdomains):
    with pytest.raises(InsecureTransportError):
        ApiCredential.objects.create(name="shop", base_url=BACKSLASH, **SECRETS)
    assert not ApiCredential.objects.exists()


def test_a_setting_with_it_is_refused(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENVIRONMENTS": {"staging": BACKSLASH}}
    with pytest.raises(Exception, match="plain host name"):
        call_command("check")


@pytest.mark.parametrize("write", ["queryset", "sql"])
def test_a_row_written_around_save_never_sends_a_request(pledg_subdomains, write):
    credential = ApiCredential.objects.create(name="shop", **SECRETS)
    if write == "queryset":
        ApiCredential.objects.filter(pk=credential.pk).update(base_url=BACKSLASH + "/api")
    else:
        write_raw_column(credential.pk, "base_url", BACKSLASH + "/api")
    loaded = ApiCredential.objects.get(pk=credential.pk)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, "https://evil.example/%5C.pledg.co/api/orders", json={})
        for auth in ("none", "basic", "bearer"):
            with pytest.raises(Exception):  # refused, one way or another
                ApiClient(loaded).get("/orders", auth=auth)
        assert len(mock.calls) == 0
