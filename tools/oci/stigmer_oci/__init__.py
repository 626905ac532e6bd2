"""Reproducible OCI images of the Stigmer services, built without a Docker daemon."""
