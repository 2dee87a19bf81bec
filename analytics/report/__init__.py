"""What leaves the app: the decision memo and spreadsheet-safe CSV exports."""
