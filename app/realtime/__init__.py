"""Live updates: the event bus, the per-tab WebSocket, and fragment rendering."""
