"""Jobs and batches: the queue's record of what to analyse, its progress and its errors."""
