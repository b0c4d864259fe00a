"""Analyses on top of trained models: anomaly screening by reconstruction error
(:mod:`biosig.analysis.anomaly`), anomaly scores and interpretation of vector-quantised tokens
(:mod:`biosig.analysis.tokens`, EEGFormer) and ECG feature agreement and baselines for generated
12-lead ECGs (:mod:`biosig.analysis.ecg`). Their figures live in :mod:`biosig.viz`."""
