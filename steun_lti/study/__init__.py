"""The study: its definition (waves, reasons, consent letter), consent, children, attempts, answers."""
