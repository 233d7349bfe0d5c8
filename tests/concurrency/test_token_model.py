"""The token store against a model: random interleavings of what a fleet lives through (issue 18).

Rules: calls through several ``ApiClient`` objects of one credential (each its
own ``TokenStore``), a caller replaying the token it took earlier (the bearer's
401 / 403 ``invalid_token`` path), the provider revoking every token or
refusing one call, the shared cache going down and coming back, the clock
moving (into the refresh window, past expiry), and "another process"
(``clear_process_memory``).

What must hold, whatever the order:

* a caller never ends with a refusal for a token that was already replaced: a
  refused call is only answered while the fleet pauses (the documented back-off
  after a replacement refused on first use), with the current token, and the
  next call after the pause succeeds;
* token requests stay within one per refresh cycle, plus one per refusal of a
  current token (a revocation, or a refused call), plus one per process start
  (a cold process with nothing in the shared cache) — calls themselves, and
  refusals of tokens already replaced, never cost a token request.

``make test`` runs a bounded number of examples; ``APIAUTH_LONG_MODEL_RUN=1``
runs thousands.
"""

from __future__ import annotations

import time

import pytest
import requests
from django.core.cache import caches
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from django_apiauth.client import ApiClient
from django_apiauth.clients.bearer import is_token_rejection
from django_apiauth.testing import FakeProvider
from django_apiauth.tokens import shared_cache
from django_apiauth.tokens import store as tokens
from django_apiauth.tokens.failures import LONGEST_PAUSE
from tests.concurrency.model_settings import model_settings
from tests.tokens.cachebackends import StoppableCache
from tests.tokens.conftest import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)

MODEL_SETTINGS = model_settings(examples=40, steps=25, long_examples=3000, long_steps=40)

CLIENTS = 3
CALLERS = 3
LIFETIME = 600
DOT_PATH = "/api/oauth-toolkit"  # refuses a dead token the django-oauth-toolkit way
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}
#: What the run went through (printed with ``-s``): the examples really exercised the store.
TALLY = {"calls": 0, "replayed": 0, "refused": 0, "paused": 0, "token_requests": 0, "examples": 0}


class TickingClock(FakeClock):
    """Time passes a microsecond per reading, as it does while code runs: two tokens
    are never fetched at the very same instant (a frozen clock makes ties real clocks
    do not)."""

    def monotonic(self) -> float:
        self.advance(1e-6)
        return self.mono


def settle(store, timeout: float = 10.0) -> None:
    """Wait (real time) until no background obtain runs for the store's credential."""
    deadline = time.monotonic() + timeout
    while store._slot.running:
        assert time.monotonic() < deadline, "a background obtain never finished"
        time.sleep(0.001)


class TokenFleet(RuleBasedStateMachine):
    """Several token stores of one credential in one process (plus restarts), and the model."""

    clock: FakeClock

    @initialize()
    def start(self):
        self.provider = FakeProvider(expires_in=LIFETIME).start()
        self.provider.mock.add_callback("GET", self.provider.base_url + DOT_PATH, self._dot)
        self.credential = self.provider.create_credential(name=f"shop-{id(self)}-{time.time()}")
        self.clients = [ApiClient(self.credential) for _ in range(CLIENTS)]
        self.held: list[str | None] = [None] * CALLERS
        # The model: how many token requests the events so far may cost.
        self.allowance = 1  # the first token
        self.processes = 1  # stores whose memory survived an "another process" act as one
        self.orphans: list = []  # stores of rebuilt clients, whose obtains may still run

    def teardown(self):
        if hasattr(self, "provider"):
            StoppableCache.stopped = False
            self.heals()
            TALLY["examples"] += 1
            TALLY["token_requests"] += self.provider.token_requests
            for client in self.clients:
                settle(client.store)  # no obtain of this example may reach the next one's provider
                client.close()
            for store in self.orphans:
                settle(store)
            self.provider.stop()

    def _dot(self, request):
        token = (request.headers.get("Authorization") or "").partition(" ")[2]
        if self.provider.state.is_live(token):
            return 200, {}, '{"ok": true}'
        return 403, INVALID_TOKEN, '{"detail": "invalid_token"}'

    @property
    def store(self):
        return self.clients[0].store

    # -- what the model knows -------------------------------------------------------

    def current_values(self, store) -> set[str]:
        """The tokens a refused caller could be handed: in its process's memory, or shared."""
        values = set()
        usable = store._slot.usable()
        if usable is not None:
            values.add(usable.value)
        shared, _ = store._obtainer.read_shared_values()
        if shared is not None:
            values.add(shared.value)
        return values

    def pausing(self, store=None) -> bool:
        store = store or self.store  # the caller's process: another one may know otherwise
        record = store._slot.rejections
        if record is None:
            _, values = store._obtainer.read_shared_values()
            record = store._failures.rejections(values)
        return record is not None and record.pausing()

    def check_outcome(self, response: requests.Response, client: ApiClient) -> None:
        settle(self.store)
        TALLY["calls"] += 1
        TALLY["replayed"] += bool(response.history)  # refused, then replayed
        if not is_token_rejection(response.status_code, response.headers):
            assert response.status_code == 200, response.status_code
            return
        TALLY["refused"] += 1
        if self.pausing(client.store):
            TALLY["paused"] += 1
            return  # the documented back-off: a replacement was refused on its first use
        final = response.request.headers["Authorization"].partition(" ")[2]
        live = {v for v in self.current_values(client.store) if self.provider.state.is_live(v)}
        assert not live - {final}, "a caller got a refusal although a live token was current"
        # The replay went out with the current token, and the provider refused that one
        # too (revoked after it replaced the caller's): the very next call heals.
        again = client.get("/api/merchant")
        settle(self.store)
        assert again.status_code == 200 or self.pausing(client.store), again.status_code

    def heals(self):
        """After the longest pause, a call succeeds (the refusals end)."""
        self.clock.advance(LONGEST_PAUSE + 1)
        self.allowance += 1  # a replacement may come due after the pause
        response = self.clients[0].get("/api/merchant")
        settle(self.store)
        if response.status_code != 200:  # the replay's token was revoked too: see check_outcome
            response = self.clients[0].get("/api/merchant")
            settle(self.store)
        assert response.status_code == 200

    # -- rules ------------------------------------------------------------------------

    @rule(i=st.integers(0, CLIENTS - 1), dot=st.booleans())
    def call(self, i, dot):
        self.check_outcome(
            self.clients[i].get(DOT_PATH if dot else "/api/merchant"), self.clients[i]
        )

    @rule(j=st.integers(0, CALLERS - 1), i=st.integers(0, CLIENTS - 1))
    def take_token(self, j, i):
        """A caller takes the token now and sends it later (a long request, a queued job)."""
        self.held[j] = self.clients[i].store.get().value
        settle(self.store)

    @precondition(lambda self: any(self.held))
    @rule(j=st.integers(0, CALLERS - 1), i=st.integers(0, CLIENTS - 1), dot=st.booleans())
    def call_with_taken_token(self, j, i, dot):
        """The bearer's path with an old token: refused -> ``store.rejected(old)`` -> replay."""
        held = self.held[j] or next(v for v in self.held if v)
        client = self.clients[i]
        bearer = client._auth("token")
        prepared = client.session.prepare_request(
            requests.Request("GET", self.provider.base_url + (DOT_PATH if dot else "/api/merchant"))
        )
        prepared.headers["Authorization"] = "Bearer " + held
        prepared.hooks["response"].append(bearer.handle_401)
        self.check_outcome(client.session.send(prepared), client)

    @rule()
    def revoke(self):
        self.provider.revoke_tokens()
        self.allowance += 1

    @rule(i=st.integers(0, CLIENTS - 1))
    def refuse_one_call(self, i):
        """The provider refuses one call with a 401 whatever its token (it cannot be told apart)."""
        self.provider.state.fail_next("api", 1, status=401, body='{"error": "invalid_token"}')
        self.allowance += 1
        response = self.clients[i].get("/api/merchant")
        settle(self.store)
        # The refused call replays once with a new token; only a pause may end in a refusal.
        self.check_outcome(response, self.clients[i])

    @rule(seconds=st.sampled_from([1, 5, 30, 200, 540, 575, 601, 1300]))
    def advance(self, seconds):
        # Any token a process could still use (held by a store, or shared) may come due.
        held = [client.store._slot.token for client in self.clients]
        held += [store._slot.token for store in self.orphans]
        held.append(self.store._obtainer.read_shared_values()[0])
        self.clock.advance(seconds)
        if any(token is not None and self.clock.mono >= token.refresh_at for token in held):
            self.allowance += 1  # a refresh cycle came due
            self.allowance += int(seconds // LIFETIME)

    @rule()
    def another_process(self):
        settle(self.store)
        tokens.clear_process_memory()
        self.allowance += 1 + StoppableCache.stopped  # with the cache down, each store fetches
        self.processes += 1

    @rule(down=st.booleans())
    def shared_cache_down(self, down):
        if down and not StoppableCache.stopped:
            # Without the shared cache each process fetches a token of its own (documented).
            self.allowance += self.processes
        StoppableCache.stopped = down

    @rule(i=st.integers(0, CLIENTS - 1))
    def another_store(self, i):
        """A client rebuilt (a new ``TokenStore`` of the same credential)."""
        self.orphans.append(self.clients[i].store)
        self.clients[i].close()
        if StoppableCache.stopped:
            self.allowance += 1  # its store may hold a slot of its own, which fetches directly
        self.clients[i] = ApiClient(self.credential)

    @invariant()
    def token_requests_stay_within_the_model(self):
        if hasattr(self, "provider"):
            settle(self.store)
            assert self.provider.token_requests <= self.allowance, (
                self.provider.token_requests,
                self.allowance,
            )


@pytest.fixture
def stoppable_default_cache(settings):
    StoppableCache.stopped = False
    StoppableCache.fail_next = 0
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.StoppableCache", "LOCATION": "model"}
    }
    settings.APIAUTH = {**settings.APIAUTH, "CACHE_ALIAS": "default"}
    yield
    StoppableCache.stopped = False
    caches["default"].clear()


def test_the_token_store_keeps_its_promises_under_any_interleaving(
    stoppable_default_cache, monkeypatch
):
    from django_apiauth import clock as apiauth_clock

    def machine():
        fake = TickingClock()
        monkeypatch.setattr(apiauth_clock, "current", fake)
        shared_cache.reset()
        instance = TokenFleet()
        instance.clock = fake
        return instance

    run_state_machine_as_test(machine, settings=MODEL_SETTINGS)
    print("token model:", TALLY)
    # The refusal paths were exercised, not only happy calls.
    assert TALLY["replayed"] + TALLY["refused"] > 0
