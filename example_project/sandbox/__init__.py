"""A local stand-in for the provider of PROVIDER.md, for demos and tests.

Pure views over in-memory state (no models): ``server.start_sandbox()`` serves
it on a free loopback port in a background thread.
"""
