"""minigan: every classic GAN built from scratch on NumPy/CuPy, backward passes by hand."""
__version__ = "0.1.0"
