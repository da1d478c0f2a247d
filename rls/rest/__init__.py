"""The REST grammar: query strings and JSON bodies compiled to statement ASTs."""
