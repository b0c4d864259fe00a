"""Run a paper protocol (CO / CV / LOSO / competition) over subjects, seeds and models.

This is the engine behind ``recipes/*/dbconformer.py``. It follows the DBConformer training
recipe (Wang et al., 2026): Euclidean alignment fitted only on what the protocol allows
(:func:`biosig.data.paper_splits.align_split`), Adam without schedule, cross-entropy, batch 32,
a fixed number of epochs, no validation split, and the test score **after the last epoch**.
Every model is trained with :class:`~biosig.tasks.classification.ClassificationTask` and a
Lightning ``Trainer`` on exactly the same aligned arrays, so baselines (braindecode's
``EEGConformer``, ``EEGNet`` via the registry) see identical data and protocol.

Aggregation as the paper: per subject accuracy (folds averaged) -> mean over subjects per seed
-> mean ± std over the seed means (``numpy.std``, ddof 0).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from biosig.data.paper_splits import Split, align_split, protocol_splits, with_trial_index
from biosig.errors import ConfigError

__all__ = [
    "TrialSet",
    "ModelSpec",
    "trials_from_cache",
    "classification_scores",
    "fit_evaluate",
    "run_protocol",
    "summarize",
    "format_table",
    "PAPER_SETTINGS",
    "add_protocol_arguments",
    "resolve_settings",
    "model_specs",
    "run_protocols",
]

#: The official scripts' optimisation settings per protocol (lr, epochs, depth).
#: "competition" (T -> E) is not in the paper; it uses the CV/LOSO settings.
PAPER_SETTINGS = {
    "co": {"lr": 1e-4, "epochs": 200, "depth": 2},
    "cv": {"lr": 1e-3, "epochs": 100, "depth": 2},
    "loso": {"lr": 1e-3, "epochs": 100, "depth": 2},  # 6 for datasets other than 2a/2b
    "competition": {"lr": 1e-3, "epochs": 100, "depth": 2},
    "holdout": {"lr": 1e-3, "epochs": 100, "depth": 2},  # e.g. TUEV train -> eval (not in the paper)
}


@dataclass
class TrialSet:
    """Trials in memory: ``X`` (N, C, T) float32 (EEG in µV), ``y`` (N,) int64 and ``meta``
    with ``subject``, ``session``, ``label``, ``trial`` (chronological within subject)."""

    X: np.ndarray
    y: np.ndarray
    meta: pd.DataFrame
    ch_names: list[str]
    sfreq: float
    classes: list[str]

    def __post_init__(self):
        if self.X.ndim != 3 or len(self.X) != len(self.y) or len(self.y) != len(self.meta):
            raise ConfigError(f"TrialSet: X {self.X.shape}, y {self.y.shape} and meta "
                              f"({len(self.meta)} rows) disagree")

    def select(self, mask) -> "TrialSet":
        mask = np.asarray(mask)
        return TrialSet(self.X[mask], self.y[mask], self.meta[mask].reset_index(drop=True),
                        self.ch_names, self.sfreq, self.classes)


def trials_from_cache(cache) -> TrialSet:
    """A window cache (``biosig.data.cache.WindowCache``) as a :class:`TrialSet`.

    ``trial`` is assigned per subject in cache order (records in the dataset's order, windows
    by onset), i.e. chronologically when the dataset lists sessions in recording order.
    """
    y = np.asarray(cache.y, dtype=np.int64)
    meta = with_trial_index(cache.meta.assign(label=y))
    return TrialSet(np.asarray(cache.X, dtype=np.float32), y, meta, cache.ch_names,
                    cache.sfreq, cache.classes)


@dataclass
class ModelSpec:
    """One model of the comparison: registry name, kwargs and optimisation settings."""

    name: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32


def classification_scores(y_true, y_pred, n_classes: int) -> dict:
    """Accuracy, balanced accuracy, Cohen's kappa and weighted F1 (as fractions)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((n_classes, n_classes), dtype=np.float64)
    np.add.at(cm, (y_true, y_pred), 1)
    n = cm.sum()
    support = cm.sum(1)
    recall = np.divide(np.diag(cm), support, out=np.zeros(n_classes), where=support > 0)
    pred_count = cm.sum(0)
    precision = np.divide(np.diag(cm), pred_count, out=np.zeros(n_classes), where=pred_count > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n_classes),
                   where=(precision + recall) > 0)
    po = np.trace(cm) / n
    pe = float((support * pred_count).sum()) / n**2
    return {
        "acc": float(po),
        "bal_acc": float(recall[support > 0].mean()),
        "kappa": float((po - pe) / (1 - pe)) if pe < 1 else 0.0,
        "f1_weighted": float((f1 * support).sum() / n),
    }


def _loader(x, y, batch_size, shuffle, seed):
    ds = torch.utils.data.TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                                        torch.from_numpy(np.asarray(y, dtype=np.int64)))
    # The official scripts skip training batches of size 1 (BatchNorm cannot train on them).
    drop_last = shuffle and len(ds) % batch_size == 1
    gen = torch.Generator().manual_seed(seed) if shuffle else None
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle,
                                       drop_last=drop_last, generator=gen)


def seed_everything(seed: int) -> None:
    """torch, numpy, random and CUDA seeds; deterministic cuDNN (as ``fix_random_seed``)."""
    import lightning.pytorch as pl

    pl.seed_everything(seed, workers=True, verbose=False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def _quiet_lightning():
    """Silence Lightning's per-Trainer banners (GPU available, tips) for the many short fits."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def fit_evaluate(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    spec: ModelSpec,
    n_outputs: int,
    sfreq: float,
    seed: int,
    accelerator: str = "cpu",
    return_task: bool = False,
):
    """Train ``spec`` from scratch on the (aligned) training trials; score the last epoch.

    Returns a dict of :func:`classification_scores` plus ``fit_s`` (and ``task`` when asked).
    """
    import lightning.pytorch as pl

    from biosig.tasks.classification import ClassificationTask

    seed_everything(seed)
    task = ClassificationTask(
        model=spec.model, model_kwargs=dict(spec.model_kwargs), n_chans=int(x_train.shape[1]),
        n_times=int(x_train.shape[2]), sfreq=float(sfreq), n_outputs=int(n_outputs),
        lr=spec.lr, optimizer="adam",
    )
    t0 = time.perf_counter()
    with _quiet_lightning():
        trainer = pl.Trainer(
            max_epochs=spec.epochs, accelerator=accelerator, devices=1, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0, limit_val_batches=0,
        )
        trainer.fit(task, train_dataloaders=_loader(x_train, y_train, spec.batch_size, True, seed))
    fit_s = time.perf_counter() - t0
    task.eval()
    device = next(task.parameters()).device
    preds = []
    with torch.no_grad():
        for xb, _ in _loader(x_test, y_test, 256, False, seed):
            preds.append(task(xb.to(device)).argmax(1).cpu().numpy())
    scores = classification_scores(y_test, np.concatenate(preds), n_outputs)
    scores["fit_s"] = fit_s
    if return_task:
        scores["task"] = task
    return scores


def run_protocol(
    trials: TrialSet,
    protocol: str,
    models: list[ModelSpec],
    seeds=(1, 2, 3, 4, 5),
    test_alignment: str = "online",
    align: bool = True,
    shrinkage: float = 0.0,
    subjects=None,
    accelerator: str = "cpu",
    split_kwargs: dict | None = None,
    verbose: bool = True,
    keep_models: bool = False,
) -> pd.DataFrame:
    """Train and test every model on every split and seed; one row per (model, seed, split).

    ``subjects`` limits the *test* subjects (LOSO still trains on all others). ``align=False``
    skips Euclidean alignment for every model; ``shrinkage`` regularises the EA references
    (needed for rank-deficient montages, e.g. TUEV's 22 TCP derivations of 21 electrodes).
    ``keep_models=True`` keeps the trained tasks and the aligned test arrays in
    ``results.attrs["tasks"]`` / ``results.attrs["test_data"]``, keyed by
    ``(model, seed, subject, fold)`` / ``(subject, fold)``.
    """
    splits: list[Split] = protocol_splits(trials.meta, protocol, **(split_kwargs or {}))
    if subjects is not None:
        keep = {str(s) for s in subjects}
        splits = [s for s in splits if str(s.subject) in keep]
        if not splits:
            raise ConfigError(f"subjects={list(subjects)} leave no split "
                              f"(data has {sorted(trials.meta['subject'].unique().tolist())})")
    n_outputs = len(trials.classes)
    rows, tasks, test_data = [], {}, {}
    for split in splits:
        if align:
            x_tr, x_te = align_split(trials.X, trials.meta, split, test_alignment=test_alignment,
                                     shrinkage=shrinkage)
        else:
            x_tr, x_te = trials.X[split.train], trials.X[split.test]
        y_tr, y_te = trials.y[split.train], trials.y[split.test]
        if keep_models:
            test_data[(split.subject, split.fold)] = (x_tr, y_tr, x_te, y_te)
        for spec in models:
            for seed in seeds:
                scores = fit_evaluate(x_tr, y_tr, x_te, y_te, spec, n_outputs, trials.sfreq,
                                      seed, accelerator, return_task=keep_models)
                if keep_models:
                    tasks[(spec.name, seed, split.subject, split.fold)] = scores.pop("task")
                row = {"model": spec.name, "seed": seed, "subject": split.subject,
                       "fold": split.fold, "n_train": len(y_tr), "n_test": len(y_te), **scores}
                rows.append(row)
                if verbose:
                    print(f"  {protocol} subject={split.subject} fold={split.fold} "
                          f"{spec.name:<14} seed={seed} acc={scores['acc']:.3f} "
                          f"({scores['fit_s']:.1f} s)", flush=True)
    out = pd.DataFrame(rows)
    if keep_models:
        out.attrs["tasks"] = tasks
        out.attrs["test_data"] = test_data
    return out


def summarize(results: pd.DataFrame, metric: str = "acc") -> pd.DataFrame:
    """Per subject and overall ``mean`` / ``std`` (in %) of ``metric`` for every model.

    Per subject: folds averaged per seed, then mean ± std over seeds. Overall ("mean"): per
    seed, the mean over subjects; then mean ± std over those seed means (the paper's way).
    Returns a long table with columns ``model, subject, mean, std``.
    """
    if results.empty:
        raise ConfigError("no results to summarise")
    per = (results.groupby(["model", "seed", "subject"], sort=False)[metric].mean() * 100).reset_index()
    out = []
    for model, grp in per.groupby("model", sort=False):
        for subject, g in grp.groupby("subject", sort=True):
            out.append({"model": model, "subject": str(subject), "mean": g[metric].mean(),
                        "std": g[metric].std(ddof=0)})
        seed_means = grp.groupby("seed")[metric].mean()
        out.append({"model": model, "subject": "mean", "mean": seed_means.mean(),
                    "std": seed_means.std(ddof=0)})
    return pd.DataFrame(out)


def format_table(summary: pd.DataFrame, title: str = "") -> str:
    """A text table: one row per subject (+ ``mean``), one ``mean ± std`` column per model."""
    cell = summary.assign(cell=summary["mean"].map("{:.2f}".format) + " ± " +
                          summary["std"].map("{:.2f}".format))
    wide = cell.pivot(index="subject", columns="model", values="cell")
    models = list(dict.fromkeys(summary["model"]))
    subjects = [s for s in dict.fromkeys(summary["subject"]) if s != "mean"] + ["mean"]
    wide = wide.loc[subjects, models]
    text = wide.to_string()
    return f"{title}\n{text}" if title else text


# -- shared command-line plumbing of the recipes/*/dbconformer.py scripts ------------------------
DISPLAY_NAMES = {"dbconformer": "DBConformer", "eegconformer": "EEGConformer", "eegnet": "EEGNet"}


def add_protocol_arguments(parser, default_models=("dbconformer", "eegconformer", "eegnet")) -> None:
    """Arguments every protocol recipe shares (protocol, seeds, models, optimisation, EA)."""
    parser.add_argument("--protocol", nargs="+", default=None,
                        choices=["co", "cv", "loso", "competition", "holdout"])
    parser.add_argument("--subjects", nargs="+", default=None, help="test subjects (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="paper: 1 2 3 4 5")
    parser.add_argument("--models", nargs="+", default=list(default_models),
                        help="registry names (dbconformer, eegconformer, eegnet, ...)")
    parser.add_argument("--preset", choices=["paper", "quick"], default=None,
                        help="paper: the official lr/epochs per protocol and seeds 1-5; quick: "
                             "lr 1e-3, 20 epochs, seed 1 (default for --data synthetic)")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset")
    parser.add_argument("--lr", type=float, default=None, help="override the preset")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--depth", type=int, default=None, help="DBConformer depth")
    parser.add_argument("--test-alignment", default="online",
                        choices=["online", "offline", "official", "none"])
    parser.add_argument("--no-align", action="store_true", help="skip Euclidean alignment")
    parser.add_argument("--ea-shrinkage", type=float, default=0.0,
                        help="shrink EA references towards a scaled identity (rank-deficient montages)")
    parser.add_argument("--metrics", nargs="+", default=["acc"],
                        choices=["acc", "bal_acc", "kappa", "f1_weighted"])
    parser.add_argument("--cache-dir", default=None, help="window cache root (default BIOSIG_CACHE)")
    parser.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 avoids oversubscription on a busy machine)")
    parser.add_argument("--out", default=None, help="write the per-run results to this CSV")


def resolve_settings(args, protocol: str, synthetic: bool, depth: int | None = None) -> dict:
    """Optimisation settings of one protocol: preset, then command-line overrides."""
    preset = args.preset or ("quick" if synthetic else "paper")
    s = dict(PAPER_SETTINGS[protocol])
    if depth is not None:
        s["depth"] = depth
    if preset == "quick":
        s.update(lr=1e-3, epochs=20)
    for key in ("epochs", "lr", "depth"):
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    s["preset"] = preset
    s["seeds"] = list(args.seeds or ([1] if preset == "quick" else [1, 2, 3, 4, 5]))
    return s


def model_specs(names, settings: dict, batch_size: int = 32) -> list[ModelSpec]:
    """One :class:`ModelSpec` per registry name; ``depth`` goes to DBConformer only."""
    return [
        ModelSpec(DISPLAY_NAMES.get(n, n), n, {"depth": settings["depth"]} if n == "dbconformer" else {},
                  lr=settings["lr"], epochs=settings["epochs"], batch_size=batch_size)
        for n in names
    ]


def run_protocols(args, trials: TrialSet, title: str, protocols, settings_for, select=None) -> pd.DataFrame:
    """Run each protocol, print its table(s), return all per-run rows (written to ``args.out``).

    ``settings_for(protocol)`` gives the settings dict; ``select(protocol, trials)`` may restrict
    the trials a protocol uses (e.g. session T only).
    """
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    frames = []
    for protocol in protocols:
        s = settings_for(protocol)
        data = select(protocol, trials) if select is not None else trials
        ea = "off" if args.no_align else f"train offline / test {args.test_alignment}"
        print(f"\n== {protocol.upper()} | {len(data.classes)} classes | preset {s['preset']}: "
              f"lr {s['lr']:g}, {s['epochs']} epochs, batch {args.batch_size}, depth {s['depth']}, "
              f"seeds {s['seeds']}, EA {ea}", flush=True)
        results = run_protocol(data, protocol, model_specs(args.models, s, args.batch_size),
                               seeds=s["seeds"], test_alignment=args.test_alignment,
                               align=not args.no_align, shrinkage=args.ea_shrinkage,
                               subjects=args.subjects,
                               accelerator=args.accelerator)
        results.insert(0, "protocol", protocol)
        for metric in args.metrics:
            print(format_table(summarize(results, metric),
                               f"\n{title} {protocol.upper()}, {metric} (%), mean ± std over seeds"))
        frames.append(results)
    out = pd.concat(frames, ignore_index=True)
    if args.out:
        out.to_csv(args.out, index=False)
        print(f"results written to {args.out}")
    return out
