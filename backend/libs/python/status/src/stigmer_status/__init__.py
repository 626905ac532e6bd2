"""The execution status model: merge rules shared by the server, the runner and clients.

The contract is docs/architecture/status-model.md. The public API:

- `apply_delta(stored, delta)`: merge an `AgentExecutionStatus` delta into a stored one
  in place (upsert by id, `append` content, todos by key, phase forward only, unset
  fields untouched). `sequence` is the caller's business.
- `effective_delta(stored, delta)`: the part of `delta` that `apply_delta` would keep
  (a refused phase removed), which is what a server publishes to watchers.
- `apply_event(current, event)`: a client's copy after one `subscribe` event (a `preview`
  event leaves it unchanged).
- `LiveExecution`: a client's copy kept from `subscribe` events, whose `view()` shows the
  streamed text of `preview` events after the stored content until deltas carry it
  (`PreviewOverlay` is that overlay alone).
- `is_final(phase)`, `can_move(current, proposed)`, `phase_rank(phase)`, `FINAL_PHASES`.
- `todo_key(position)`: the key of the todo at a position of the latest `write_todos` list.
- `is_map(field)`: whether a protobuf field is a `map<K, V>` (the merge, the server's checks
  and the CLI's manifests walk messages by their descriptors).
"""

from stigmer_status._events import LiveExecution, SequenceGapError, apply_event
from stigmer_status._fields import is_map
from stigmer_status._merge import apply_delta, effective_delta
from stigmer_status._phase import FINAL_PHASES, can_move, is_final, phase_rank
from stigmer_status._previews import PreviewOverlay
from stigmer_status._todos import todo_key

__all__ = [
    "FINAL_PHASES",
    "LiveExecution",
    "PreviewOverlay",
    "SequenceGapError",
    "apply_delta",
    "apply_event",
    "can_move",
    "effective_delta",
    "is_final",
    "is_map",
    "phase_rank",
    "todo_key",
]
