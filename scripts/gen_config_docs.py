#!/usr/bin/env python3
"""Write the key reference of config/README.md from the config schema.

    python scripts/gen_config_docs.py          # rewrite the generated part of config/README.md
    python scripts/gen_config_docs.py --check  # exit 1 if it is out of date

The schema (src/jetprof/schemas/config.schema.yaml) is the one place where a key's
meaning, allowed values and default are written; tests/test_docs.py fails when the
committed README differs from what this script writes. A developer tool, not a rule script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jetprof.config import with_config_reference

README = Path(__file__).resolve().parents[1] / "config" / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    parser.add_argument("--readme", type=Path, default=README, help="the README to update")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = with_config_reference(text)
    if new == text:
        return 0
    if args.check:
        print(f"{args.readme}: the key reference is out of date; run {Path(__file__).name}",
              file=sys.stderr)
        return 1
    args.readme.write_text(new, encoding="utf-8")
    print(f"{args.readme}: key reference rewritten from the schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
