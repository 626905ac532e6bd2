"""The load benchmark's parts: processes, measurement, profiles, report."""

from loadbench._burst import Results, Settings, run
from loadbench._processes import Options, Topology, start_topology
from loadbench._procstat import load_average, machine
from loadbench._report import Context, write

__all__ = [
    "Context",
    "Options",
    "Results",
    "Settings",
    "Topology",
    "load_average",
    "machine",
    "run",
    "start_topology",
    "write",
]
