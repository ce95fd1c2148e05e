"""The residual block, nnmath.layers.Residual: its inner gradients against torch autograd,
several fit steps against torch.optim on the to_torch copy, checkpoints resumed bit for bit,
model files, and the errors of a block that does not fit."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from conftest import Interrupt
from nnmath.layers import Conv2D, Dense, Dropout, Input, MaxPool2D, Residual
from nnmath.optim import get_optimizer

torch = pytest.importorskip("torch", reason="PyTorch is the oracle: pip install torch==2.13.0")
nn = torch.nn


def deep_mlp(dtype: str = "float64") -> nm.Network:
    """Input(8), Dense(6), three blocks F = Dense(6, relu), Dense(6, identity), softmax."""
    blocks = [Residual([Dense(6, "relu"), Dense(6, "identity")]) for _ in range(3)]
    layers = [Input(8), Dense(6, "tanh"), *blocks, Dense(3, "softmax")]
    return nm.Network(layers, cost="log_likelihood", init="he", seed=0, dtype=dtype)


def conv_net(dtype: str = "float64") -> nm.Network:
    """A padded convolution inside a block, a block inside a block, a dense block after."""
    inner = Residual([Conv2D(3, 1, activation="identity")], activation="tanh")
    layers = [
        Input((2, 6, 6)),
        Conv2D(3, 3, padding=1, activation="relu"),
        Residual([Conv2D(3, 3, padding=1, activation="relu"), inner]),
        MaxPool2D(2),
        Dense(5, "elu"),
        Residual([Dense(5, "relu"), Dense(5, "identity")], activation="identity"),
        Dense(3, "softmax"),
    ]
    return nm.Network(layers, cost="log_likelihood", init="glorot", seed=1, dtype=dtype)


def data(net: nm.Network, m: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, *net.layers[0].shape)).astype(net.dtype)
    return X, rng.integers(0, net.n_outputs, m)


def torch_parameters(model) -> list:
    """The Linear and Conv2d modules of ``model`` in order, those inside blocks included."""
    return [mod for mod in model.modules() if isinstance(mod, nn.Linear | nn.Conv2d)]


@pytest.mark.parametrize("make", [deep_mlp, conv_net])
def test_backprop_equals_torch_autograd_on_the_to_torch_copy(make) -> None:
    net = make()
    X, y = data(net, 5)
    model = nm.to_torch(net)
    out = model(torch.from_numpy(X))
    Y = torch.from_numpy(np.eye(net.n_outputs)[y])
    (-(Y * torch.log(out)).sum() / len(X)).backward()
    g = net.backprop(X, y)
    mods = torch_parameters(model)
    assert len(mods) == len(net.weights) == len(g.nabla_w)
    for mod, nw, nb in zip(mods, g.nabla_w, g.nabla_b):
        np.testing.assert_allclose(nw, mod.weight.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(nb, mod.bias.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "opt",
    [{"optimizer": "sgd", "eta": 0.1, "momentum": 0.9, "lmbda": 0.5},
     {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9, "nesterov": True},
     {"optimizer": "adam", "eta": 0.01, "lmbda": 0.1},
     {"optimizer": "rmsprop", "eta": 0.01}],
    ids=["momentum", "nesterov", "adam", "rmsprop"],
)  # fmt: skip
@pytest.mark.parametrize("make", [deep_mlp, conv_net])
def test_several_fit_steps_equal_torch_optim_on_the_to_torch_copy(make, opt) -> None:
    """Two epochs of three mini-batches: fit's shuffled order, its optimizer's state carried
    from step to step, against torch.optim on the ResidualBlock modules."""
    net = make()
    model = nm.to_torch(net)
    n, m, fit_seed = 12, 4, 7
    X, y = data(net, n)
    net.fit(X, y, epochs=2, mini_batch_size=m, seed=fit_seed, fast=False, **opt)

    hyper = {k: v for k, v in opt.items() if k != "optimizer"}
    mods = torch_parameters(model)
    twin = get_optimizer(opt["optimizer"], n=n, **hyper).torch_optimizer(
        [p.weight for p in mods], [p.bias for p in mods]
    )
    rng = np.random.default_rng(fit_seed)  # fit's generator: one permutation per epoch
    for _ in range(2):
        perm = rng.permutation(n)
        for k in range(0, n, m):
            idx = perm[k : k + m]
            twin.zero_grad()
            out = model(torch.from_numpy(X[idx]))
            Y = torch.from_numpy(np.eye(net.n_outputs)[y[idx]])
            (-(Y * torch.log(out)).sum() / m).backward()
            twin.step()
    for mod, W, b in zip(mods, net.weights, net.biases):
        np.testing.assert_allclose(W, mod.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, mod.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_to_torch_and_back_is_exact() -> None:
    net = conv_net()
    model = nm.to_torch(net)
    assert isinstance(model[2], nm.io.torch.ResidualBlock)
    assert isinstance(model[2].body, nn.Sequential)
    X, _ = data(net, 4)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X)).numpy(), net.feedforward(X))
    back = nm.from_torch(model, cost=net.cost_name, init=net.init, input_shape=(2, 6, 6))
    assert back.config() == net.config()
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def test_a_state_dict_has_the_model_files_names(tmp_path) -> None:
    from safetensors.numpy import load_file

    net = conv_net()
    path = tmp_path / "m.safetensors"
    nm.save(net, path)
    model = nm.to_torch(net)
    tensors = load_file(str(path))
    assert set(model.state_dict()) == set(tensors)
    assert "2.body.2.body.0.weight" in tensors  # the block inside the block
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    back = nm.load(path)
    assert back.config() == net.config()
    X, _ = data(net, 3)
    assert np.array_equal(back.feedforward(X), net.feedforward(X))


@pytest.mark.parametrize(
    "opt",
    [{"optimizer": "adam", "eta": 0.01, "lmbda": 0.1},
     {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9, "schedule": "cosine"}],
    ids=["adam", "momentum-cosine"],
)  # fmt: skip
def test_interrupted_and_resumed_equals_uninterrupted_bit_for_bit(tmp_path, opt) -> None:
    X, y = data(conv_net("float32"), 24, seed=3)
    kw = dict(epochs=3, mini_batch_size=8, seed=5, **opt)
    full = conv_net("float32")
    h_full = full.fit(X, y, **kw)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        conv_net("float32").fit(X, y, checkpoint=path, callbacks=[Interrupt(1)], **kw)
    resumed = conv_net("float32")
    h_res = resumed.fit(X, y, checkpoint=path, resume=True, **kw)
    assert h_res.training_cost == h_full.training_cost
    for a, b in zip(full.weights + full.biases, resumed.weights + resumed.biases):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: [Input(6), Residual([Dense(4, "relu")])], r"\(6,\) to \(4,\)"),
        (lambda: [Input((2, 5, 5)), Residual([Conv2D(2, 3)])], r"\(2, 5, 5\) to \(2, 3, 3\)"),
        (lambda: [Input((2, 3, 3)), Residual([Dense(18)])], "nothing is flattened"),
    ],
)
def test_a_block_whose_F_changes_the_shape_is_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        nm.Network([*make(), Dense(2, "softmax")], cost="log_likelihood")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Residual([Dense(4), Dropout(0.5)]), "before or after"),
        (lambda: Residual([]), "give F's layers"),
        (lambda: Residual([Dense(4)], activation="softmax"), "element-wise"),
        (lambda: Residual([4]), "not a layer"),
    ],
)
def test_what_a_block_cannot_hold_is_refused(make, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_the_given_layers_stay_unbuilt_and_two_networks_share_no_w() -> None:
    F = [Dense(6, "relu"), Dense(6, "identity")]
    block = Residual(F)
    one = nm.Network([Input(6), block, Dense(2, "softmax")], seed=0)
    two = nm.Network([Input(6), block, Dense(2, "softmax")], seed=0)
    assert F[0].W is None and block.layers == []
    assert one.weights[0] is not two.weights[0] and np.array_equal(one.weights[0], two.weights[0])
    assert len(one.weights) == 3  # two inside the block, the output's


class Counting(Dense):
    """A Dense that keeps state no gradient trains, as BatchNorm's running statistics: the
    examples it has seen in training passes (folded in by ``update_state``)."""

    name = "counting"

    def __init__(self, n: int, activation: str = "identity") -> None:
        super().__init__(n, activation)
        self.seen = np.zeros(1)

    def state(self) -> dict:
        return {"seen": self.seen}

    def set_state(self, state) -> None:
        self.seen = np.asarray(state["seen"]).copy()

    def update_state(self, cache) -> None:
        self.seen = self.seen + cache.a_prev.shape[-1]


def test_a_blocks_inner_state_is_kept_updated_and_restored() -> None:
    inner = Residual([Counting(4)], activation="identity")
    block = Residual([Dense(4, "tanh"), inner])
    net = nm.Network([Input(4), block, Dense(2, "softmax")], cost="log_likelihood", seed=0)
    X, y = data(net, 10)
    net.fit(X, y, epochs=2, mini_batch_size=5, eta=0.1, seed=0, fast=False)
    built = net.layers[1]
    # named as in the torch module: ResidualBlock(body=[Linear, Tanh, ResidualBlock(body=[...])])
    assert built.state() == {"body.2.body.0.seen": np.array([20.0])}  # 2 epochs × 10 examples
    built.set_state({"body.2.body.0.seen": np.array([3.0])})
    assert built.layers[1].layers[0].seen[0] == 3.0
    for bad in ("body.7.seen", "2.body.0.seen", "seen"):
        with pytest.raises(ValueError, match="no inner layer"):
            built.set_state({bad: np.array([1.0])})
    net.predict(X)  # an inference pass folds nothing in
    assert built.state()["body.2.body.0.seen"][0] == 3.0


def _edited(path, change):
    """A copy of the model file at ``path`` with its architecture JSON changed."""
    import json
    import struct

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8 : 8 + n])
    config = json.loads(head["__metadata__"]["config"])
    change(config)
    head["__metadata__"]["config"] = json.dumps(config)
    text = json.dumps(head).encode()
    out = path.with_name("edited.safetensors")
    out.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    return out


def _deep(config: dict) -> None:
    block = config["layers"][2]
    for _ in range(20):  # blocks inside blocks, deeper than any file nnmath writes
        block = {"type": "residual", "layers": [block], "activation": {"name": "relu"}}
    config["layers"][2] = block


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["layers"][2]["layers"][0].update(type="nope"), r"layers\[2\].layers\[0\]"),
        (lambda c: c["layers"][2]["layers"][0].update(n=2**40), "2\\*\\*31"),
        (lambda c: c["layers"][2]["layers"][1].update(n=7), "shape"),
        (_deep, "nested too deep"),
    ],
    ids=["unknown-type", "huge", "another-shape", "too-deep"],
)
def test_a_model_file_with_a_bad_block_is_refused_before_building(tmp_path, change, message):
    path = nm.save(deep_mlp(), tmp_path / "m.safetensors")
    with pytest.raises(nm.io.ModelFileError, match=message):
        nm.load(_edited(path, change))


def test_an_onnx_graph_whose_block_has_no_add_is_refused(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    path = nm.to_onnx(deep_mlp(), tmp_path / "m.onnx", dtype="float64")
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.name == "layer4/Add":
            node.op_type = "Sub"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="not followed by the Add node layer4/Add"):
        nm.from_onnx(path)


def test_from_torch_reads_a_residual_block_built_in_torch() -> None:
    block = nm.io.torch.ResidualBlock(
        nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)), nn.ReLU()
    )
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), block, nn.Linear(4, 2), nn.Softmax(dim=1))
    net = nm.from_torch(model.double())
    assert repr(net.layers[2]) == (
        "Residual([Dense(4, activation='tanh'), Dense(4, activation='identity')], "
        "activation='relu')"
    )
    X = np.random.default_rng(0).standard_normal((5, 3))
    with torch.no_grad():
        np.testing.assert_allclose(net.feedforward(X), model(torch.from_numpy(X)).numpy())
    bad = nn.Sequential(nn.Linear(3, 4), nm.io.torch.ResidualBlock(nn.Linear(4, 5), nn.ReLU()))
    with pytest.raises(ValueError, match=r"F maps the input shape \(4,\) to \(5,\)"):
        nm.from_torch(nn.Sequential(*bad, nn.Linear(5, 2), nn.Softmax(dim=1)))


@pytest.mark.parametrize("i", range(len(Residual.EXAMPLES)))
def test_each_example_blocks_inner_gradients_match_differences_and_autograd(i) -> None:
    """tests/test_layers.py checks a block's g; here its inner ∂C/∂w, ∂C/∂b (Backward.inner)
    for C = Σ R ⊙ a^{out}, against central differences and torch autograd of its twin."""
    from test_layers import M, built, torch_sigma

    layer, a_prev, _, R = built(Residual, *Residual.EXAMPLES[i])
    rng = np.random.default_rng(3)
    for inner in layer.parameter_layers():
        inner.b = rng.standard_normal(inner.b.shape)  # glorot's b = 0 would hide a wrong ∂C/∂b
    cache = layer.forward(a_prev)
    back = layer.backward(layer.delta(cache, R), cache)
    grads = [M * g for pair in back.inner for g in pair]  # means over the M examples
    assert len(grads) == len(layer.parameters())
    for param, grad in zip(layer.parameters(), grads):
        flat = param.reshape(-1)
        for j in rng.choice(flat.size, size=min(flat.size, 10), replace=False):
            old = flat[j]
            flat[j] = old + 1e-6
            up = np.sum(R * layer.forward(a_prev).a)
            flat[j] = old - 1e-6
            down = np.sum(R * layer.forward(a_prev).a)
            flat[j] = old
            assert grad.reshape(-1)[j] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-7)
    params = [torch.tensor(p, requires_grad=True) for p in layer.parameters()]
    out = torch_sigma(layer, layer.torch_z(torch.tensor(a_prev), nn.functional, *params))
    (torch.tensor(R) * out).sum().backward()
    for p, grad in zip(params, grads):
        np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-10, atol=1e-12)
