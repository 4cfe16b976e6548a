"""Tracking layer: runs and experiments, the fluent API, search, SQL and store upkeep.

Works in a plain Python script. Imports storage and the leaf modules only — never IPython,
ipywidgets, plotly or tornado.
"""
