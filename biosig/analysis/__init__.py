"""Analyses on top of trained models: anomaly screening by reconstruction error
(:mod:`biosig.analysis.anomaly`), anomaly scores and interpretation of vector-quantised tokens
(:mod:`biosig.analysis.tokens`, EEGFormer), ECG feature agreement and baselines for generated
12-lead ECGs (:mod:`biosig.analysis.ecg`) and a trained CVD CNN's class probabilities for one
ECG file (:mod:`biosig.analysis.cvd`). Their figures live in :mod:`biosig.viz`."""
