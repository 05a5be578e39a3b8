"""Incidents and their spread: complaints grouped by meaning (grouping, index), merged and split by people
(merge), watched for spread (detect, spread, escalate), and shown with their evidence (evidence)."""
