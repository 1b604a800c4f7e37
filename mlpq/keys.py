"""`mlpq keygen NAME`: a new API key for the client and its hashed MLPQ_API_KEYS entry for the server."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="who the key is for; jobs and models it creates belong to "
                                     "this name (1-64 letters, digits, '.', '_' or '-')")
    parser.add_argument("--admin", action="store_true",
                        help="an admin key sees and manages every owner's jobs and models")
    parser.add_argument("--json", action="store_true",
                        help='print {"name", "key", "entry"} as one JSON object, for scripts')


def run(args: argparse.Namespace) -> int:
    from api.auth import generate_key, key_entry

    key = generate_key()
    try:
        entry = key_entry(args.name, key, admin=args.admin)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"name": args.name, "key": key, "entry": entry}))
        return 0
    print(f"API key for {args.name}{' (admin)' if args.admin else ''}. Give it to the client, "
          "which sends 'Authorization: Bearer <key>'. It is not stored anywhere:")
    print(f"  {key}")
    print("Add this entry to MLPQ_API_KEYS on the server (comma-separated with any others):")
    print(f"  {entry}")
    return 0
