"""Fails `make test` on a skipped test outside the opt-in suites.

A skip in CI hides a test that did not run (a missing package, a tool not found); only the
suites that run on request (`make chaos`: tests/chaos, tests/multihost; any swarm suite)
may skip. Reads the JUnit XML that pytest wrote: `python .ci/skips.py REPORT.xml`.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def opt_in(classname: str) -> bool:
    """tests.chaos.*, tests.multihost.*, or a suite whose folder is named for swarm."""
    parts = classname.split(".")
    return len(parts) > 1 and (parts[1] in {"chaos", "multihost"} or "swarm" in parts[1])


def main(report: str) -> int:
    skipped = []
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 (our own pytest's report)
        for skip in case.iter("skipped"):
            # An expected failure ran (JUnit files it under skipped): only real skips count.
            if skip.get("type") == "pytest.xfail":
                continue
            classname = case.get("classname", "")
            if not opt_in(classname):
                skipped.append(f"{classname}::{case.get('name')}: {skip.get('message', '')}")
    for line in skipped:
        print(f"skipped outside an opt-in suite: {line}", file=sys.stderr)
    if skipped:
        print(f"{len(skipped)} tests skipped: each must run in `make test`", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
