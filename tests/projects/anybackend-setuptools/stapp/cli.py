import sys

import click


@click.command()
@click.argument("name")
def main(name: str) -> None:
    click.echo(f"stapp (setuptools) greets {name} from {sys.version_info[0]}.{sys.version_info[1]}")
