"""What a sweep's numbers say: agreement of each loss with each metric, the prevalence where a
preference between two models flips, the comparison of two sweeps cell by cell, and the
tables and figures logged on a sweep's parent run.
"""
