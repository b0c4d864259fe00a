"""The networks the GPU check's recipes train compile to one graph in training mode, so that
``biosig.callbacks.CompileNetworks`` (CUDA graphs with ``mode="reduce-overhead"``) covers a
whole forward: no graph break, and so no host read of a device value inside it (each would make
the host wait for the GPU every step). Traced by Dynamo's eager backend (no code generation);
ECGNet's generator is the exception: Dynamo does not trace LSTMs (cuDNN runs one anyway)."""

from __future__ import annotations

import pytest
import torch

from biosig.models import create_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dbconformer():
    net = create_model("dbconformer", n_chans=3, n_times=200, sfreq=100.0, n_outputs=2, depth=1)
    return net, net.forward, (torch.randn(2, 3, 200),)


def _hveegnet():
    net = create_model("hveegnet", n_chans=4, n_times=120, sfreq=125.0)
    return net, net.forward, (torch.randn(2, 4, 120),)


def _cvd_cnn():
    net = create_model("cvd_cnn", n_chans=12, n_times=250, sfreq=100.0, n_outputs=5)
    return net, net.forward, (torch.randn(2, 12, 250),)


def _ecgnet_critic():
    net = create_model("ecgnet_critic", n_chans=12, n_times=64, sfreq=100.0, n_outputs=1,
                       channels=(4,))
    return net, net.forward, (torch.randn(2, 12, 64), torch.randn(2, 1, 64),
                              torch.tensor([0, 6]))  # the GAN passes its input leads as a tensor


def _ssmdp():
    net = create_model("ssmdp", n_chans=3)
    x = torch.randn(2, 3, 256)
    return net, net.forward, (x, torch.rand(2), net._ids_tensor(x, None))  # as DiffusionTask


def _eegformer_pretrain():
    net = create_model("eegformer_s", n_chans=3, n_times=250, sfreq=250.0, patch_len=20,
                       patch_stride=10, emb_size=32, n_heads=4, encoder_depth=1,
                       decoder_depth=1, n_codes=16, ema=True, data_init=True, dead_after=3)
    x = torch.randn(4, 3, 250)
    net.train().forward_pretrain(x)  # the codebook's data initialisation: once, eager
    return net, net.forward_pretrain, (x,)


@pytest.mark.parametrize("build", [_dbconformer, _hveegnet, _cvd_cnn, _ecgnet_critic, _ssmdp,
                                   _eegformer_pretrain], ids=lambda f: f.__name__[1:])
def test_training_forward_is_one_graph(build):
    torch.manual_seed(0)
    net, method, args = build()
    net.train()
    eager = method(*args)
    compiled = torch.compile(method, backend="eager", fullgraph=True)  # a graph break raises
    torch._dynamo.reset()
    try:
        out = compiled(*args)
    finally:
        torch._dynamo.reset()
    assert type(out) is type(eager)


def test_eegformer_codebook_steps_keep_their_statistics_when_compiled():
    """The quantiser's sync-free training call (scatter-add counts, dead codes replaced through
    torch.where, the initialised flag mirrored on the host) gives what the eager call gives."""
    _, _, (x,) = _eegformer_pretrain()
    torch.manual_seed(1)
    a, _, _ = _eegformer_pretrain()
    b, _, _ = _eegformer_pretrain()
    b.load_state_dict(a.state_dict())
    compiled = torch.compile(b.forward_pretrain, backend="eager", fullgraph=True)
    for step in range(4):  # dead_after=3: codes unused for 3 calls restart
        torch.manual_seed(step)
        out_a = a.forward_pretrain(x)
        torch.manual_seed(step)
        out_b = compiled(x)
        torch.testing.assert_close(out_b.vq.counts, out_a.vq.counts)
        torch.testing.assert_close(out_b.loss, out_a.loss)
    torch._dynamo.reset()
    torch.testing.assert_close(b.quantizer.codebook, a.quantizer.codebook)
    torch.testing.assert_close(b.quantizer.unused_calls, a.quantizer.unused_calls)


def test_quantizer_mirrors_its_initialised_flag_on_the_host():
    from biosig.models.blocks.quantizer import VectorQuantizer

    q = VectorQuantizer(8, 4, data_init=True)
    assert not q.initialized_on_host and not bool(q.initialized)
    q.train()(torch.randn(20, 4))
    assert q.initialized_on_host and bool(q.initialized)
    loaded = VectorQuantizer(8, 4, data_init=True)
    loaded.load_state_dict(q.state_dict())  # a checkpoint of an initialised codebook
    assert loaded.initialized_on_host
    q.load_state_dict(VectorQuantizer(8, 4, data_init=True).state_dict())
    assert not q.initialized_on_host  # a state from before the first batch: initialised again
    assert VectorQuantizer(8, 4).initialized_on_host  # no data initialisation
