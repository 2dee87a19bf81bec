"""Before a launch: time, memory and cost estimates."""
