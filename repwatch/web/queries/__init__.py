"""Read models for the pages and the API: plain functions over a session, no HTTP in here."""
