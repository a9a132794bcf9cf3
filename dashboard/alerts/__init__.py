"""Alert rules and the reviews they open: lists, the rule editor, a review, marks on a trend."""
