"""Mail: building outgoing messages, the outbox, delivery; later, parsing inbound mail."""
