"""Ingest authentication events nobody records yet (issue 6): Ory event streams, OpenTelemetry span
events, Kratos JSON logs and the login UI's audit lines, normalised into the seed's event names."""
