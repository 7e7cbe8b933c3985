import click


@click.command()
@click.option("--count", default=1)
def main(count: int) -> None:
    for _ in range(count):
        click.echo("legacyapp (setup.py only)")
