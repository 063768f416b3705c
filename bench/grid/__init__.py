"""The grid: a command's selection → RunSpecs → planned runs, checked before any run starts."""
