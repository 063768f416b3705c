"""Reports: records → pandas → Δm, mean ± spread over seeds → tables, plots, regression checks.

The report never trains and never reads a model: it works on record files only.
"""
