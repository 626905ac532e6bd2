"""Manifests: YAML documents (apiVersion, kind, metadata, spec) applied by slug."""

from stigmer_cli.manifest._apply import Action, Outcome, apply, check_references
from stigmer_cli.manifest._parse import Document, ManifestError, Reference, load, slugify

__all__ = [
    "Action",
    "Document",
    "ManifestError",
    "Outcome",
    "Reference",
    "apply",
    "check_references",
    "load",
    "slugify",
]
