"""mfastats: MFA monitoring for Ory Kratos identity platforms."""

__version__ = "0.1.0"
