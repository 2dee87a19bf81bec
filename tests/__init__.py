"""The test suite; its folders mirror the packages (models, analytics, pages), plus browser and
integration."""
