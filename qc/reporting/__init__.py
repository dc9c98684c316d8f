"""What is shown from the record: trend charts and PDF reports."""
