"""`python -m stigmer_cli`: the same program as the `stigmer` script."""

from stigmer_cli.main import app

app(prog_name="stigmer")
