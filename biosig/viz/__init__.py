"""Plots: training runs (``training``), 12-lead ECG (``ecg``), scalp topographies (``topomap``).

Import the submodule you need; each loads matplotlib (and MNE for topomaps) on import.
"""
