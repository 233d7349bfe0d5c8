"""Settings package of the example merchant site."""
