"""The execution status model: merge rules shared by the server, the runner and clients."""
