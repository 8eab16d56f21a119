"""aiosocketio: Socket.IO v5 / Engine.IO v4 for asyncio."""
__version__ = "0.1.0"
