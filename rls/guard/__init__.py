"""The guard: policies injected into statement ASTs, for REST requests and any SQL."""
