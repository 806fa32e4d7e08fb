"""The learning records the tool produces: domain events, statements, the outbox, withdrawal, export glue."""
