"""Engines: one interface, one module per backend. Only this package talks to a model."""
