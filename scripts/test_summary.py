"""Prints one line, "tests: N passed, N failed", counting GoogleTest cases in Meson JUnit logs.

Usage: test_summary.py LABEL testlog.junit.xml [more.xml ...]
Exits 1 if any case failed or if no test ran at all (an empty suite is a failure, not a pass).
"""

import sys
import xml.etree.ElementTree as ElementTree


def main(label: str, paths: list[str]) -> int:
    passed = failed = skipped = 0
    for path in paths:
        for case in ElementTree.parse(path).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    suffix = f", {skipped} skipped" if skipped else ""
    print(f"{label}: {passed} passed, {failed} failed{suffix}")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
