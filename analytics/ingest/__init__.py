"""What enters the workspace: file sniffing and import, run folders, sample data, prices."""
