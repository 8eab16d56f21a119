"""The asyncio helpers every layer above the protocols shares: the event emitter, the task
registry, the pending-ack table and the event-loop set-up."""
