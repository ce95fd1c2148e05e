"""Every layer of nnmath.layers against central differences (float64) and torch autograd,
in the training pass that ``fit`` differentiates (a BatchNorm's mini-batch statistics).

Parametrized by :data:`nnmath.layers.LAYERS` and each layer type's ``EXAMPLES``: a new layer
is one class and one registry entry, and is tested here without an edit.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnmath.layers import LAYERS, Conv2D, Layer
from nnmath.layers._windows import correlate_naive, im2col

M = 3  # examples per mini-batch (the last axis)

CASES = [
    pytest.param(cls, kw, shape, id=f"{name}-{i}")
    for name, cls in LAYERS.items()
    for i, (kw, shape) in enumerate(cls.EXAMPLES)
]


def built(cls: type[Layer], kw: dict, shape: tuple, seed: int = 0) -> tuple:
    """The layer built in float64, an input, a dropout-style mask and ``R`` with C = Σ R ⊙ a^l."""
    rng = np.random.default_rng(seed)
    layer = cls(**kw)
    layer.build(shape, "glorot", rng, np.float64)
    if layer.has_parameters:
        layer.b = rng.standard_normal(layer.b.shape)  # glorot's b = 0 would hide a wrong ∂C/∂b
    a_prev = rng.standard_normal((*layer.input_shape, M))
    p = getattr(layer, "p", 0.5)
    mask = (rng.random((*layer.output_shape, M)) >= p) / (1 - p)
    R = rng.standard_normal((*layer.output_shape, M))
    return layer, a_prev, mask, R


def analytic(layer: Layer, a_prev: np.ndarray, mask: np.ndarray, R: np.ndarray) -> tuple:
    """∂C/∂a^{l−1}, ∂C/∂W, ∂C/∂b of C = Σ R ⊙ a^l by the layer's own backward."""
    cache = layer.forward(a_prev, mask, training=True)
    back = layer.backward(layer.delta(cache, R), cache)
    if not layer.has_parameters:
        return back.g, None, None
    return back.g, M * back.nabla_w, M * back.nabla_b  # nabla_* are means over the M examples


def torch_sigma(layer: Layer, z: object) -> object:
    """σ by torch's own module (declared with each activation): autograd then differentiates
    torch's σ, independent of ours (``.T``: torch's softmax normalises rows)."""
    from nnmath.io.torch import _torch_module

    if layer.activation is None:
        return z
    sigma = _torch_module(layer.activation)
    return sigma(z.T).T if z.ndim == 2 else sigma(z)


def test_every_layer_type_declares_examples() -> None:
    for name, cls in LAYERS.items():
        assert cls.name == name and cls.EXAMPLES, f"{cls.__name__} needs EXAMPLES to be tested"


@pytest.mark.parametrize(("cls", "kw", "shape"), CASES)
def test_backward_matches_central_differences(cls: type, kw: dict, shape: tuple) -> None:
    layer, a_prev, mask, R = built(cls, kw, shape)
    g, nabla_w, nabla_b = analytic(layer, a_prev, mask, R)
    targets = [("a_prev", a_prev, g)]
    if layer.has_parameters:
        targets += [("W", layer.W, nabla_w), ("b", layer.b, nabla_b)]
    rng = np.random.default_rng(1)
    eps = 1e-6
    for what, arr, grad in targets:
        flat = arr.reshape(-1)  # a view: perturbing it perturbs the layer's input / parameters
        for j in rng.choice(flat.size, size=min(flat.size, 25), replace=False):
            old = flat[j]
            flat[j] = old + eps
            up = np.sum(R * layer.forward(a_prev, mask, training=True).a)
            flat[j] = old - eps
            down = np.sum(R * layer.forward(a_prev, mask, training=True).a)
            flat[j] = old
            numeric = (up - down) / (2 * eps)
            assert grad.reshape(-1)[j] == pytest.approx(numeric, rel=1e-5, abs=1e-7), (what, j)


@pytest.mark.parametrize(("cls", "kw", "shape"), CASES)
def test_forward_and_backward_match_torch(cls: type, kw: dict, shape: tuple) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer, a_prev, mask, R = built(cls, kw, shape)
    cache = layer.forward(a_prev, mask, training=True)  # fit's pass: a BatchNorm's batch stats
    g, nabla_w, nabla_b = analytic(layer, a_prev, mask, R)
    a_t = torch.tensor(a_prev, requires_grad=True)
    params = [torch.tensor(p, requires_grad=True) for p in layer.parameters()]
    z_t = layer.torch_z(a_t, F, *params, mask=torch.tensor(mask))
    out_t = torch_sigma(layer, z_t)
    (torch.tensor(R) * out_t).sum().backward()
    np.testing.assert_allclose(cache.z, z_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.a, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, a_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    if layer.has_parameters:
        np.testing.assert_allclose(nabla_w, params[0].grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(nabla_b, params[1].grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("i", range(len(Conv2D.EXAMPLES)))
def test_im2col_product_is_nielsens_sum(i: int) -> None:
    """The BLAS path (one product with the im2col columns) equals the sum written as loops."""
    layer, a_prev, _, _ = built(Conv2D, *Conv2D.EXAMPLES[i])
    z = layer.forward(a_prev).z
    naive = correlate_naive(a_prev, layer.W, layer.b, layer.stride, layer.padding)
    np.testing.assert_allclose(z, naive, rtol=1e-12, atol=1e-12)


def test_im2col_lays_windows_out_in_kernel_order() -> None:
    """Row (c, i, j), column (y, x, e): entry a[c, s·y + i, s·x + j, e] (no padding)."""
    a = np.arange(2 * 5 * 4 * 2, dtype=float).reshape(2, 5, 4, 2)
    cols = im2col(a, 2, 2, 0).reshape(2, 2, 2, 2, 2, 2)  # (c, i, j, y, x, e)
    for c, i, j, y, x, e in np.ndindex(cols.shape):
        assert cols[c, i, j, y, x, e] == a[c, 2 * y + i, 2 * x + j, e]


@pytest.mark.parametrize(
    ("make", "shape", "message"),
    [
        (lambda: Conv2D(3, 5), (1, 4, 4), "does not fit"),
        (lambda: Conv2D(3, 2), (8,), "image input"),
        (lambda: LAYERS["dense"](4), (2, 3, 3), "vector input"),
        (lambda: LAYERS["maxpool2d"](3), (1, 2, 2), "does not fit"),
    ],
)
def test_a_shape_that_does_not_fit_says_what_to_do(make, shape, message) -> None:
    with pytest.raises(ValueError, match=message):
        make().build(shape, "he", np.random.default_rng(0), np.float64)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Conv2D(0, 3), "out_channels"),
        (lambda: Conv2D(2, 3, stride=0), "stride"),
        (lambda: Conv2D(2, 3, activation="softmax"), "element-wise"),
        (lambda: LAYERS["dropout"](1.0), r"\[0, 1\)"),
        (lambda: LAYERS["dense"](0), "positive"),
        (lambda: LAYERS["input"]((1, 28)), "positive int or"),
        (lambda: LAYERS["maxpool2d"](0), "size"),
    ],
)
def test_bad_arguments_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
