"""mlpq engine: multilayer perceptrons in pure NumPy."""
