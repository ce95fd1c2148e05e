"""The lecture's worked examples: the scalar network f(x;Θ) = σ2(w2 σ1(w1 x + b1) + b2), the
chain rule of a 1-neuron-per-layer network, and a 2-2-2 network worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.activations import sigmoid, sigmoid_prime, tanh_prime


def scalar_net(ws, bs, activation="sigmoid", cost="quadratic") -> nm.Network:
    net = nm.Network([1] * (len(ws) + 1), activation=activation, cost=cost, dtype="float64")
    for l, (w, b) in enumerate(zip(ws, bs)):
        net.weights[l][...] = w
        net.biases[l][...] = b
    return net


def test_scalar_example_df_dw1() -> None:
    """∂f/∂w1 = σ2'(w2 σ1(w1 x + b1) + b2) × w2 σ1'(w1 x + b1) x."""
    w1, b1, w2, b2, x = 0.7, -0.2, -1.3, 0.4, 0.9
    z1 = w1 * x + b1
    closed_form = sigmoid_prime(w2 * sigmoid(z1) + b2) * w2 * sigmoid_prime(z1) * x
    # with C = a^L, ∂C/∂a^L = 1: the quadratic cost with y = a^L − 1 gives exactly that
    net = scalar_net([w1, w2], [b1, b2])
    f = net.feedforward([[x]])[0, 0]
    g = net.backprop([[x]], [[f - 1.0]])
    assert g.nabla_w[0][0, 0] == pytest.approx(closed_form, rel=1e-12)
    assert g.activations[1][0, 0] == pytest.approx(sigmoid(w1 * x + b1))  # a_1


@pytest.mark.parametrize("L", [4, 8])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_chain_formula_for_db1(L: int, activation: str) -> None:
    """∂C/∂b_1 = σ'(z_1) w_2 σ'(z_2) … w_L σ'(z_L) ∂C/∂a_L for one neuron per layer."""
    rng = np.random.default_rng(L)
    ws, bs = rng.normal(size=L), rng.normal(size=L)
    x, y = 0.6, 0.2
    net = scalar_net(ws, bs, activation=activation)
    g = net.backprop([[x]], [[y]])
    prime = sigmoid_prime if activation == "sigmoid" else tanh_prime
    a, zs = x, []
    for w, b in zip(ws, bs):
        zs.append(w * a + b)
        a = net.activation_functions[0](np.array(zs[-1]))
    product = prime(zs[0])
    for l in range(1, L):
        product *= ws[l] * prime(zs[l])
    product *= a - y  # ∂C/∂a_L of C = ½ (a_L − y)²
    assert g.nabla_b[0][0] == pytest.approx(float(product), rel=1e-10)


def test_hand_worked_2_2_2_network() -> None:
    """Every number below was worked out by hand (scalar arithmetic, sigmoid, C = ½‖a − y‖²)."""
    net = nm.Network([2, 2, 2], activation="sigmoid", cost="quadratic", dtype="float64")
    net.weights[0][...] = [[0.1, -0.3], [0.4, 0.2]]
    net.biases[0][...] = [0.05, -0.1]
    net.weights[1][...] = [[0.6, -0.5], [0.3, 0.8]]
    net.biases[1][...] = [0.0, 0.1]
    x, y = np.array([[0.5, -0.2]]), np.array([[1.0, 0.0]])
    g = net.backprop(x, y)
    np.testing.assert_allclose(g.zs[0][:, 0], [0.16, 0.06], rtol=1e-12)
    np.testing.assert_allclose(g.activations[1][:, 0], [0.5399148845555657, 0.51499550161941])
    np.testing.assert_allclose(g.zs[1][:, 0], [0.06645117992363442, 0.6739708666621976])
    np.testing.assert_allclose(g.activations[2][:, 0], [0.5166066845037878, 0.6623917316637395])
    assert net.cost(x, y) == pytest.approx(0.33621595182145403, rel=1e-12)
    np.testing.assert_allclose(g.deltas[1][:, 0], [-0.12071501771311997, 0.14812995120360226])
    np.testing.assert_allclose(g.deltas[0][:, 0], [-0.00695291266416856, 0.04467514775814066])
    np.testing.assert_allclose(g.nabla_b[1], g.deltas[1][:, 0])  # ∂C/∂b^l = δ^l
    np.testing.assert_allclose(
        g.nabla_w[1],
        [[-0.06517583485270224, -0.06216769110016418], [0.07997756550331449, 0.07628625852495786]],
    )
    np.testing.assert_allclose(
        g.nabla_w[0],
        [
            [-0.00347645633208428, 0.001390582532833712],
            [0.02233757387907033, -0.008935029551628133],
        ],
    )
