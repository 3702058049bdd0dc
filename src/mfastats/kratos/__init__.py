"""The only code that queries a Kratos database (read-only)."""
