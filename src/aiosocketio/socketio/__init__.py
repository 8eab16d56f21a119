"""socketio layer."""
