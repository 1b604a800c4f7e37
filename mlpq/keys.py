"""`mlpq keygen NAME`: a new API key for the client and its hashed MLPQ_API_KEYS entry for the server."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("name")
@click.option("--admin", is_flag=True, help="an admin key sees and manages every owner's jobs and models")
@click.option("--json", "as_json", is_flag=True,
              help='print {"name", "key", "entry"} as one JSON object, for scripts')
def keygen(name, admin, as_json) -> int:
    """Make an API key: the key for the client and its hashed MLPQ_API_KEYS entry.

    NAME is who the key is for; jobs and models it creates belong to this name (1-64 letters,
    digits, '.', '_' or '-').
    """
    from api.core.auth import generate_key, key_entry

    key = generate_key()
    try:
        entry = key_entry(name, key, admin=admin)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    if as_json:
        click.echo(json.dumps({"name": name, "key": key, "entry": entry}))
        return 0
    click.echo(f"API key for {name}{' (admin)' if admin else ''}. Give it to the client, "
               "which sends 'Authorization: Bearer <key>'. It is not stored anywhere:")
    click.echo(f"  {key}")
    click.echo("Add this entry to MLPQ_API_KEYS on the server (comma-separated with any others):")
    click.echo(f"  {entry}")
    return 0
