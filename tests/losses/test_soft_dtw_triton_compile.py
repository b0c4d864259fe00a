"""The Triton soft-DTW kernels compiled ahead of time for real GPUs (Hopper sm_90: H100/H200;
Ampere sm_80: A100) by Triton's own compiler and ``ptxas``, without a GPU: what the interpreter
test cannot show (types in the loops, lowering, register allocation). Running them is
``benchmarks/gpu_check.py``'s job."""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton", reason="triton not installed (a dev dependency on Linux)")

from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from biosig.losses import _soft_dtw_triton as T  # noqa: E402


def _compile(kernel, pointers: list[str], dtype: str, constexprs: dict, arch: int):
    signature = {name: f"*{dtype}" for name in pointers}
    signature.update(n="i32", m="i32", **dict.fromkeys(constexprs, "constexpr"))
    src = ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
    try:
        options = {"num_warps": 4, "enable_fp_fusion": T.FP_FUSION}  # as the launches
        return triton.compile(src, target=GPUTarget("cuda", arch, 32), options=options)
    except (FileNotFoundError, RuntimeError) as err:
        # Triton raises "Cannot find ptxas" where its CUDA tools are missing; compile and ptxas
        # errors are other exception types (TritonError) and fail the test
        if isinstance(err, FileNotFoundError) or str(err).startswith("Cannot find"):
            pytest.skip(f"Triton cannot compile for CUDA here: {err}")
        raise


@pytest.mark.parametrize("arch", [90, 80])
@pytest.mark.parametrize("dtype", ["fp32", "fp64"])
def test_kernels_compile_for_gpus(arch, dtype):
    lo = -80.0 if dtype == "fp32" else -700.0
    for hard in (False, True):
        fwd = _compile(T._fwd_kernel, ["x_ptr", "y_ptr", "r_ptr"], dtype,
                       {"LO": lo, "HARD": hard, "BLOCK": 256}, arch)  # fmt: skip
        assert f".target sm_{arch}" in fwd.asm["ptx"] and len(fwd.asm["cubin"]) > 1000
        assert "bar.sync" in fwd.asm["ptx"]  # the barrier between diagonals survives lowering
    bwd = _compile(T._bwd_kernel, ["x_ptr", "y_ptr", "r_ptr", "e_ptr", "gx_ptr", "gy_ptr"], dtype,
                   {"LO": lo, "BLOCK": 256}, arch)  # fmt: skip
    assert f".target sm_{arch}" in bwd.asm["ptx"] and len(bwd.asm["cubin"]) > 1000
    assert "bar.sync" in bwd.asm["ptx"]
