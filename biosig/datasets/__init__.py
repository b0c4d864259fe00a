"""Datasets: each module knows its files, labels and splits, and yields Recordings."""

from biosig.datasets.synthetic import SyntheticECG, SyntheticMI, simulate_ecg12, simulate_mi_eeg

__all__ = ["SyntheticECG", "SyntheticMI", "simulate_ecg12", "simulate_mi_eeg"]
