"""Stage 7-8: records -> summary table and paired comparisons -> answers and figures."""
