"""The web side of mfastats: the analytics page, the JSON API and `/metrics`, served from stored results.

`state.ReportStore` holds the latest report (computed at start and then by a background refresh);
`app.create_app(store, token=...)` builds the FastAPI application that answers from it.
"""
