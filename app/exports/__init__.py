"""Export builders: pure functions from stored results (plain values) to files other tools
read: CSV and JSON tables, CMX3600 EDL and OpenTimelineIO for shots, W3C Web Annotations
for hybrid segments. No database, no HTTP."""
