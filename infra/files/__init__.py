"""Files: bulk ingestion of JSON-lines event files."""
