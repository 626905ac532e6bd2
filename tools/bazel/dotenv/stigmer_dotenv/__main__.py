"""`bazel run //backend/services/<svc>:dot_env_local`: writes the service's .env.

Run from the runfiles tree, where the service's _kustomize files and the service-hub groups
are; writes into the checkout (BUILD_WORKSPACE_DIRECTORY), or to --output.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stigmer_dotenv._errors import EnvConfigError
from stigmer_dotenv._groups import load_groups
from stigmer_dotenv._overlay import load_overlay
from stigmer_dotenv._resolve import LocalSecrets, render_dotenv, resolve, write_private

SERVICE_HUB = Path("_ops/planton/service-hub")


def stigmer_home(environ: dict[str, str] | os._Environ[str]) -> Path:
    """The local mode's data directory, as the CLI finds it: STIGMER_HOME, else ~/.stigmer."""
    explicit = environ.get("STIGMER_HOME")
    return Path(explicit).expanduser() if explicit else Path.home() / ".stigmer"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--package", required=True, help="the service directory, e.g. backend/services/agent-runner"
    )
    parser.add_argument("--overlay", default="local", help="the overlay under _kustomize/overlays")
    parser.add_argument(
        "--output", type=Path, help="where to write (default <checkout>/<package>/.env)"
    )
    args = parser.parse_args(argv)
    output = args.output
    if output is None:
        workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
        if not workspace:
            print("dot_env: run me with `bazel run`, or pass --output", file=sys.stderr)
            return 2
        output = Path(workspace) / args.package / ".env"
    label = f"bazel run //{args.package}:dot_env_{args.overlay}"
    try:
        declared = load_overlay(Path(args.package) / "_kustomize" / "overlays" / args.overlay)
        values = resolve(declared, load_groups(SERVICE_HUB), LocalSecrets(stigmer_home(os.environ)))
        text = render_dotenv(values, label)
    except EnvConfigError as error:
        print(f"dot_env: {error}", file=sys.stderr)
        return 1
    write_private(output, text)
    print(f"dot_env: wrote {len(values)} variables of {declared.service} to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
