"""Demo and test data: Kratos-shaped databases written with the real Kratos column types."""
