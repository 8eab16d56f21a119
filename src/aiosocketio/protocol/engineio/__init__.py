"""engineio layer."""
