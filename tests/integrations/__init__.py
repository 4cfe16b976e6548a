"""Integration tests (a package, so its conftest does not shadow the root conftest
that other test folders import by the name ``conftest``)."""
