"""Records: one JSON per run (the schema), the record store, atomic writes, run locks."""
