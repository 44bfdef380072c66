"""Shared by every pytest suite under tests/: the markers.

serial: the test cannot share the machine with another test process (scripts/test.sh runs the
integration and crash suites with pytest-xdist, `-m "not serial"`, then the serial ones alone
with `-m serial`). Give the reason next to the marker."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: needs the machine to itself; run after the parallel pass (-m serial)")
