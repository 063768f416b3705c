"""Procedures over many runs or steps: the power study's grid, tuning, step-cost measurement."""
