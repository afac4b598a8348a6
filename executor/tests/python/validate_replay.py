"""Validates replay files against the replay JSON Schema (Draft 2020-12).

Usage: validate_replay.py SCHEMA REPLAY...  Prints one line per replay; exits 1 on the first invalid one.
"""

import json
import sys

import jsonschema


def main() -> None:
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
        if errors:
            for error in errors[:5]:
                print(f"{path}: {'/'.join(map(str, error.path))}: {error.message}")
            sys.exit(1)
        print(f"{path}: valid")


if __name__ == "__main__":
    main()
