"""nnmath's version, in a module of its own so that any layer can read it without importing the
package ``nnmath`` (whose ``__init__`` imports the training loop)."""

__version__ = "0.1.0"
