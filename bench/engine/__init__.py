"""Runner glue: one RunSpec → one mmengine Runner → one record."""
