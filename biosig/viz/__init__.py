"""Plots: training runs (``training``), 12-lead ECG (``ecg``), scalp topographies (``topomap``),
VAE reconstructions and anomaly screening (``reconstruction``), discrete EEG tokens
(``tokens``).

Import the submodule you need; each loads matplotlib (and MNE for topomaps) when it draws.
"""
