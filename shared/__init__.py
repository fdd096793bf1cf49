"""What the intake and responder services share: schema, configuration, mail, operations."""
