"""The cluster adapters' wire protocol (sans-I/O): message types, their encodings and the
bookkeeping of requests and responses between servers."""
