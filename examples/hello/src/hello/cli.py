import sys

import click

from . import __version__


@click.command()
@click.version_option(__version__, prog_name="hello")
@click.option("--name", default="World", help="Who to greet.")
@click.option("--python", "show_python", is_flag=True, help="Say which Python runs this.")
def main(name: str, show_python: bool) -> None:
    """Greet someone."""
    click.echo(f"Hello, {name}!")
    if show_python:
        click.echo(f"Python {sys.version.split()[0]} at {sys.executable}")
