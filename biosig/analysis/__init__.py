"""Analyses on top of trained models: anomaly screening by reconstruction error
(:mod:`biosig.analysis.anomaly`) and ECG feature agreement and baselines for generated 12-lead
ECGs (:mod:`biosig.analysis.ecg`). Their figures live in :mod:`biosig.viz`."""
