"""Print the browser test's measured figures in pytest's summary (visible without -s)."""

import sys


def pytest_terminal_summary(terminalreporter):
    for name, module in list(sys.modules.items()):
        if name.split(".")[-1] == "test_browser":
            for line in getattr(module, "REPORT", []):
                terminalreporter.write_line(line)
