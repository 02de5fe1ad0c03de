"""Documentation generated from the code: the data dictionary (`condolake docs dictionary`)."""
