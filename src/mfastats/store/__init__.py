"""mfastats' own small database: snapshots of every metric per domain, and the last alert states.

SQLite file by default, PostgreSQL by DSN. The schema is created and migrated by the tool itself.
"""
