"""Evaluation beyond one run: aggregate statistics with stratified-bootstrap intervals."""
