"""ECGNet trained briefly on the built-in 12-lead simulator beats both honest baselines."""

import numpy as np
import pytest
import torch

from biosig.datasets.synthetic import simulate_ecg12
from biosig.analysis.ecg import LeastSquaresLeadMap, copy_input, evaluation_report
from biosig.models.ecgnet import remove_baseline
from biosig.signal.ecg_leads import einthoven_residual


@pytest.fixture(scope="module")
def trained():
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks.gan import GANTask

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # an LSTM's many small ops slow down badly with threads on a busy CPU
    sfreq, dur = 100.0, 2.0
    X = np.stack([r.data for r in simulate_ecg12(140, duration=dur, sfreq=sfreq, seed=11)])
    # ECGNet generates baseline-free leads (its input contract removes the input's wander):
    # compare on baseline-free ECG, as a recipe's high-pass would give
    flat = torch.from_numpy(X).reshape(-1, X.shape[-1])
    X = remove_baseline(flat, sfreq).reshape(X.shape).numpy()
    train, test = X[:120], X[120:]
    pl.seed_everything(0)
    task = GANTask(n_chans=12, n_times=X.shape[-1], sfreq=sfreq, input_channel="I",
                   generator_kwargs={"hidden_size": 24}, critic_kwargs={"channels": (16, 16)},
                   lr_g=3e-3, lr_d=1e-3, adv_weight=0.5)
    loader = DataLoader(TensorDataset(torch.from_numpy(train), torch.zeros(len(train))),
                        batch_size=20, shuffle=True)
    trainer = pl.Trainer(max_epochs=12, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, loader)
    fake = task.generator.generate(torch.from_numpy(test), lead="I").numpy()
    torch.set_num_threads(threads)
    return sfreq, train, test, fake


def test_ecgnet_beats_copy_and_least_squares_on_v1_v6(trained):
    sfreq, train, test, fake = trained
    lsq = LeastSquaresLeadMap().fit(train)
    rep = evaluation_report(test, {"ecgnet": fake, "copy_input": copy_input(test, "I"),
                                   "least_squares": lsq.predict(test, "I")}, sfreq=sfreq)
    mean = rep.xs("mean", level="lead")
    print(mean)
    for base in ("copy_input", "least_squares"):
        assert mean.loc["ecgnet", "fd_mean"] < mean.loc[base, "fd_mean"], mean
        assert mean.loc["ecgnet", "mse"] < mean.loc[base, "mse"], mean
    assert einthoven_residual(fake) < 1e-5
    np.testing.assert_array_equal(fake[:, 0], test[:, 0])


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_gan_task_losses_update_both_networks(loss):
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.errors import ConfigError
    from biosig.tasks.gan import GANTask

    torch.manual_seed(0)
    x = torch.randn(8, 12, 40) * 0.3
    task = GANTask(n_chans=12, n_times=40, sfreq=20.0, n_outputs=5, input_channel="random",
                   random_channels=["I", "aVF", "V3"], adversarial_loss=loss, n_critic=1,
                   generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)},
                   frechet_channels=["V1", "V2", "V3", "V4", "V5", "V6"])
    g0 = [p.detach().clone() for p in task.generator.parameters()]
    d0 = [p.detach().clone() for p in task.critic.parameters()]
    dl = DataLoader(TensorDataset(x, torch.zeros(8)), batch_size=4)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, dl, dl)
    assert any(not torch.equal(a, b) for a, b in zip(g0, task.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, task.critic.parameters()))
    m = trainer.callback_metrics
    assert torch.isfinite(m["train_loss_d"]) and torch.isfinite(m["val_fd"])
    assert "val_mse_V6" in m and "val_mse_I" not in m  # the input lead I is not scored
    with pytest.raises(ConfigError):
        GANTask(n_chans=12, n_times=40, adversarial_loss="lsgan")


def test_gan_task_takes_channels_from_the_generator_and_checks_the_data():
    from biosig.errors import ChannelError, ConfigError
    from biosig.tasks.gan import GANTask

    small = dict(n_times=40, sfreq=20.0, generator_kwargs={"hidden_size": 4},
                 critic_kwargs={"channels": (4,)})
    task = GANTask(n_chans=12, input_channel="avf", **small)  # names are the generator's
    assert task.channel_names[task.val_channel] == "aVF" and task._random_ids == [5]
    assert GANTask(n_chans=12, input_channel="random", **small).val_channel == 0
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    with pytest.raises(ConfigError, match="model.generator: the data.s channels .* are not "
                                          "those ECGNet names"):
        GANTask(n_chans=12, ch_names=leads[::-1], **small)  # another channel order is refused
    with pytest.raises(ConfigError, match="V7"):
        GANTask(n_chans=12, input_channel="V7", **small)
    with pytest.raises(ConfigError, match="sampling rate"):
        GANTask(n_chans=12, n_times=40, frechet_channels=["V1"])
    with pytest.raises(ChannelError):
        GANTask(n_chans=3, n_times=40)  # the generator refuses other channel counts
    x = torch.randn(2, 12, 40)
    out = task(x)
    assert out.shape == (2, 12, 40) and torch.equal(out[:, 5], x[:, 5])


def test_gan_task_refuses_a_datamodule_whose_leads_are_in_another_order():
    """ECGNet names its 12 leads itself, so a GANTask given no ch_names never compared them
    with the DataModule's: records in another lead order trained the generator on the wrong
    leads (the input lead picked by position) without a word. The data's channels are the
    records' 12 leads (not the single input lead), compared by the lead each name gives."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.errors import ConfigError
    from biosig.tasks.gan import GANTask

    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

    class Records(pl.LightningDataModule):
        def __init__(self, ch_names):
            super().__init__()
            self.ch_names = ch_names

        def train_dataloader(self):
            return DataLoader(TensorDataset(torch.randn(2, 12, 40), torch.zeros(2)))

    def start_fit(task, ch_names):
        pl.Trainer(max_epochs=0, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   accelerator="cpu").fit(task, datamodule=Records(ch_names))

    small = dict(n_chans=12, n_times=40, sfreq=20.0, generator_kwargs={"hidden_size": 4},
                 critic_kwargs={"channels": (4,)})
    swapped = leads[:6] + ["V2", "V1"] + leads[8:]
    with pytest.raises(ConfigError, match=r"^the DataModule's ch_names \(task.generator\): .* "
                                          r"are not those ECGNet names.*first difference at "
                                          r"position 6: 'V2' instead of 'V1'"):
        start_fit(GANTask(**small), swapped)
    upper = [name.upper() for name in leads]  # AVR, AVL, AVF: the same leads
    task = GANTask(ch_names=upper, **small)
    start_fit(task, upper)
    assert task.generator.ch_names == leads and task.critic.ch_names == leads


def test_gan_task_saves_its_generator_with_the_card_the_recipe_writes(tmp_path):
    """``biosig fit --config recipes/ptbxl/ecgnet.yaml`` trains a GANTask: its checkpoint gives
    the weights folder that ECGNet.from_pretrained + generate_recording use (the data contract
    and the input leads trained from), as recipes/ptbxl/ecgnet.py writes it."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.errors import ConfigError
    from biosig.models.ecgnet import ECGNet
    from biosig.models.weights import load_card
    from biosig.tasks.gan import GANTask

    torch.manual_seed(0)
    x = torch.randn(4, 12, 40) * 0.3
    task = GANTask(n_chans=12, n_times=40, sfreq=20.0, random_channels=["I", "ii", "I"],
                   generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)})
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, DataLoader(TensorDataset(x, torch.zeros(4)), batch_size=4))
    trainer.save_checkpoint(tmp_path / "gan.ckpt")
    loaded = GANTask.load_from_checkpoint(tmp_path / "gan.ckpt")
    folder = loaded.save_pretrained(tmp_path / "weights", recipe={"seed": 0})
    card = load_card(folder)
    assert card["recipe"] == {"seed": 0, "train_leads": ["I", "II"]}
    assert card["data"]["sfreq"] == 20.0 and card["data"]["n_times"] == 40
    net = ECGNet.from_pretrained(folder)
    assert net.train_leads == ["I", "II"] and net.sfreq == 20.0
    assert all(torch.equal(a, b) for a, b in
               zip(net.state_dict().values(), task.generator.state_dict().values()))
    with pytest.raises(ConfigError, match="lead V2 is not one these weights were trained"):
        net.generate(x, lead="V2")
    fixed = GANTask(n_chans=12, n_times=40, sfreq=20.0, input_channel="avf",
                    generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)})
    assert fixed.train_channels == ["aVF"]
    with pytest.raises(ConfigError, match="contradicts the task's"):
        fixed.save_pretrained(tmp_path / "w2", recipe={"train_leads": ["I"]})


def test_gan_task_records_train_leads_only_for_a_generator_that_reads_them(tmp_path,
                                                                          monkeypatch):
    """Any generator's card said ``recipe.train_leads``, which only ECGNet reads (its
    from_pretrained refuses other leads): another generator's card now records the input
    channels as ``train_channels``."""
    import torch.nn as nn

    from biosig.models import _registry
    from biosig.models.base import BiosigModel
    from biosig.models.weights import load_card
    from biosig.tasks.gan import GANTask

    class CopyGenerator(BiosigModel):
        """Every channel generated as a scaled copy of the input channel."""

        registry_name = "copy_generator"
        gan_role = "generator"

        def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None,
                     chs_info=None):
            super().__init__()
            self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, cond, ids):
            return (cond * self.scale).expand(-1, self.n_chans, -1)

    monkeypatch.setitem(_registry._MODELS, "copy_generator", CopyGenerator)
    task = GANTask(generator="copy_generator", n_chans=12, n_times=40, sfreq=20.0,
                   input_channel=3, critic_kwargs={"channels": (4,)})
    card = load_card(task.save_pretrained(tmp_path / "w", recipe={"seed": 0}))
    assert card["name"] == "copy_generator"
    assert card["recipe"] == {"seed": 0, "train_channels": ["3"]}


def _ecgnet_recipe():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "recipes" / "ptbxl" / "ecgnet.py"
    spec = importlib.util.spec_from_file_location("ptbxl_ecgnet_recipe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ptbxl_ecgnet_recipe_defaults_stop_early_on_validation_mse():
    recipe = _ecgnet_recipe()
    args = recipe.build_parser().parse_args([])
    spec = recipe.ecgnet_spec(args, args.epochs)
    (stop,) = spec.trainer["callbacks"]
    assert stop.monitor == "val_mse" and spec.monitor == "val_mse" and spec.test_ckpt == "best"
    assert spec.trainer["max_time"] == {"minutes": 9.0}
    assert spec.init_args["random_channels"] == ["I", "II"]
    assert spec.init_args["val_channel"] == "I"
    assert args.highpass == 0.5 and recipe._leads("all")[-1] == "V6"


def test_ptbxl_ecgnet_recipe_tiny_reports_both_input_leads(tmp_path, capsys):
    import pandas as pd

    recipe = _ecgnet_recipe()
    threads = torch.get_num_threads()
    try:
        rc = recipe.main(["--n-records", "30", "--duration", "2", "--epochs", "2", "--hidden",
                          "4", "--patience", "1", "--no-features", "--batch-size", "8",
                          "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert rc == 0
    rep = pd.read_csv(tmp_path / "out" / "report.csv", index_col=[0, 1, 2])
    assert sorted(set(rep.index.get_level_values(0))) == ["I", "II"]
    assert set(rep.index.get_level_values(1)) == {"ECGNet", "copy_input", "least_squares"}
    assert "| II | least_squares | r |" in out and "| I | ECGNet | MSE (mV²) |" in out
    res = pd.read_csv(tmp_path / "out" / "results.csv")
    for key in ("I_v1v6_mse", "II_v1v6_pearson_r", "II_least_squares_v1v6_mse"):
        assert np.isfinite(res[key]).all(), key
    for lead in ("I", "II"):
        assert (tmp_path / "out" / f"report_{lead}.png").is_file()
    # every printed score says which leads it averages (the runner's: 11 leads, not V1-V6)
    eleven = "mean over the 11 leads II, III, aVR, aVL, aVF, V1-V6"
    assert f"best validation MSE {res['best_val_mse'][0]:.4f} (from lead I, {eleven})" in out
    assert f"l1, mse, pearson next (the runner's test scores): from lead I, {eleven}" in out
    assert f"test records from lead I ({eleven}), mse, mean ± std over seeds" in out
    assert "| V6 | mean V1-V6 |" in out
    # results.json: plain values; the trained generator kept as a weights folder
    assert " object at 0x" not in (tmp_path / "out" / "results.json").read_text()
    from biosig.models.ecgnet import ECGNet
    from biosig.models.weights import load_card

    weights = tmp_path / "out" / "weights"
    assert f"saved to {weights}" in out
    net = ECGNet.from_pretrained(weights)
    assert net.sfreq == 100.0 and net.lstm.hidden_size == 4
    assert net.train_leads == ["I", "II"]  # the recipe's --train-leads: other inputs refused
    card = load_card(weights)
    assert card["data"]["preprocessing"]["steps"] == [
        {"step": "Bandpass", "low": 0.5, "high": None, "order": 4}]
    assert card["metrics"]["best_val_mse"] == pytest.approx(res["best_val_mse"][0])
