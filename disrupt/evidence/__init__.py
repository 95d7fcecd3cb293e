"""Evidence: WARC captures of reported pages, encrypted at rest, with a hash-chained chain of
custody, exports for the police or a regulator, legal holds and retention."""
