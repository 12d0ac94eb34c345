"""The elements job (extract, track, refine, cluster) and the projection head it trains."""
