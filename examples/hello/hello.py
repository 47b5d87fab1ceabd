"""Runs inside the realized environment: `store run -f examples/hello/env.yml -- python examples/hello/hello.py`."""

import sys

import click
from rich.console import Console


@click.command()
@click.option("--name", default="envstore")
def main(name: str) -> None:
    Console().print(f"[bold]hello from {name}[/bold]: python {sys.version.split()[0]} at {sys.prefix}")


if __name__ == "__main__":
    main()
