"""One access token per credential, shared by every thread, process and host of a site.

:mod:`.store` is the policy (and the door callers use); :mod:`.obtain` fetches in
the background under a fleet-wide lease; :mod:`.memory` is this process's slot per
credential; :mod:`.values` the token and block values and their cache form;
:mod:`.failures` what the provider refused; :mod:`.endpoint` ``POST /api/token``;
:mod:`.timing` the refresh window and waits; :mod:`.shared_cache` the one door to
Django's cache; :mod:`.background` the daemon threads and the fork hook.
"""

__all__ = []
