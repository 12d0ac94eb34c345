"""Recurring drawn elements across a collection (the CAST method): region proposals, tracks
within shots, a projection head refined on the collection's own tracks, clusters, collages
and names."""
