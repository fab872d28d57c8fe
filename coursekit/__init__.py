"""coursekit: plumbing for the course "Aula 10 - Machine Learning Distribuido com PySpark MLlib"."""

__version__ = "0.1.0"
