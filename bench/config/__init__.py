"""What a run is: profiles (the protocol as data), their schema, RunSpec → config → hash, rows."""
