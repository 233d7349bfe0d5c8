"""Without ``opentelemetry-api`` installed, the hooks cost nothing and change nothing."""

from __future__ import annotations

import importlib.util
import sys


def load_without_opentelemetry(monkeypatch):
    """A fresh copy of ``django_apiauth.telemetry`` imported as if the API were missing."""
    for name in [n for n in sys.modules if n == "opentelemetry" or n.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import raises ImportError
    spec = importlib.util.find_spec("django_apiauth.telemetry")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_decorators_hand_back_the_function_itself(monkeypatch):
    hooks = load_without_opentelemetry(monkeypatch)

    def check(self):
        return "result"

    async def ahandle(request, credential):
        return "answer"

    assert hooks.trace is None
    assert hooks.connectivity_check(check) is check
    assert hooks.notification(ahandle) is ahandle


def test_the_hooks_do_nothing(monkeypatch):
    hooks = load_without_opentelemetry(monkeypatch)
    assert hooks.token_wait("shop") is None
    assert hooks.token_rejected("shop") is None
    assert hooks.cache_error("get_many") is None
    assert hooks.notification_outcome("shop", "hash", "accepted") is None
    with hooks.token_request("shop", "https://provider.test") as inside:
        assert inside is None
    assert hooks._names == set()
