"""Pipeline stages. Each module owns one concern; only the engine layer touches a model."""
