"""The built-in asyncio HTTP/1.1 + WebSocket server (the default front end)."""
