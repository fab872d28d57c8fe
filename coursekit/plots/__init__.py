"""Plots for the lessons: aggregate in Spark, draw a small pandas result.

One submodule per topic; never call ``toPandas()`` on a large DataFrame here:
every function takes small pandas frames or numbers.
"""
