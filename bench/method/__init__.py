"""The method contract: the base classes every method derives from, and their options."""
