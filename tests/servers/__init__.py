"""Protocol-faithful local servers that stand in for online services in tests."""
