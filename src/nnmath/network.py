"""The lecture's network: ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)``, and backpropagation.

Notation (second lecture): ``a^1 = x``, ``a^l = σ(w^l a^{l−1} + b^l)`` for ``l = 2, …, L``,
``ŷ = a^L``. In code the layers of weights are numbered from 0: ``weights[i]`` is the
lecture's ``w^{i+2}`` with shape ``(sizes[i+1], sizes[i])``, ``activations[0]`` is the input
``a^1 = x`` and ``activations[i+1] = σ(zs[i])``. (The first lecture writes ``z = Wᵀx + b``
with ``W ∈ R^{n×m}``; that ``W`` is the transpose of ours.)

The public methods take examples as *rows* (``X: (n_samples, n_features)``, as NumPy and
scikit-learn users expect) and transpose once at the boundary, which is a view, not a copy.
Inside, a mini-batch is a matrix whose *columns* are the examples, so every line below is
the lecture's equation with ``m`` columns at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MethodType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dropout as _dropout
from . import validation
from ._architecture import layer_activations
from ._boundary import inputs_on_device, targets_on_device
from ._fit_checks import refuse_while_training
from ._gradients import Gradients
from ._scores import EVAL_ROWS, chunk_scores, n_chunks, output
from .activations import Activation
from .backend import Backend, get_backend, get_namespace, resolve_dtype, to_numpy
from .costs import Cost, get_cost
from .init import initialize
from .layers import Dense, Input, Layer, dense_sizes, is_layer_list, sizes_network_arguments
from .layers.dense import dense_gradients, dense_z

__all__ = ["Network", "Gradients", "EVAL_ROWS", "chunk_scores"]


class _FromAbove:
    """A method that *is* a function of a layer above the core (``nnmath.train.fit``,
    ``nnmath.io.save``), imported when first looked up: ``Network.fit`` is that function, with
    its own signature, docstring and defaults, and ``net.fit`` is it bound to ``net``.

    The upward imports are the two ``ignore_imports`` of pyproject.toml's layers contract.
    """

    def __init__(self, load: Callable[[], Callable[..., Any]]) -> None:
        self.load = load

    def __get__(self, net: Any, owner: type | None = None) -> Callable[..., Any]:
        function = self.load()
        return function if net is None else MethodType(function, net)


def _train_fit() -> Callable[..., Any]:
    from .train import fit  # the training loop is a layer above the core

    return fit


def _io_save() -> Callable[..., Any]:
    from .io import save  # files are an edge: a layer above the core

    return save


class Network:
    """A fully connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int, or list of nnmath.layers
        Units per layer, input first: ``[784, 30, 10]`` has L = 3 layers and two layers of
        weights. Or layer objects: ``[Input(784), Dense(30), Dense(10)]`` is that same network
        (σ from each Dense), and a list with convolutions, pooling, Dropout, ... builds a
        :class:`~nnmath.layer_network.LayerNetwork` (a subclass: see its module).
    activation : str, Activation, or list of them
        σ of the hidden layers: one for all, or one per hidden layer
        (``len(sizes) − 2`` entries), or one per layer of weights (``len(sizes) − 1``
        entries, the last being the output's).
    output_activation : str or Activation, optional
        σ of the output layer. Defaults to ``activation`` when that is a single one (the
        book's all-sigmoid network) and the cost is defined for its values; otherwise (say
        ``activation="relu"`` with a cost of probabilities) to the cost's own output:
        sigmoid for cross-entropy, softmax for log-likelihood.
    cost : str or Cost
        ``"quadratic"``, ``"cross_entropy"`` or ``"log_likelihood"``. Cross-entropy and
        log-likelihood take ``ln a``, so they need outputs in (0, 1): a built-in output
        activation other than sigmoid or softmax is an error with them.
    init : str
        A name of :data:`nnmath.init.INITS`: the book's ``"normal"`` and ``"scaled_normal"``,
        ``"glorot"``, ``"glorot_normal"``, ``"standard"``, ``"lecun"``, ``"he"``,
        ``"he_uniform"`` or ``"orthogonal"`` (gain 1; see :mod:`nnmath.init`).
    seed : int, optional
        Seed of the initialisation (``numpy.random.default_rng(seed)``).
    dtype : str
        ``"float32"`` (default, fast) or ``"float64"``.
    rng : numpy.random.Generator, optional
        Use this generator instead of ``seed``.
    backend : {"numpy", "torch", "cupy"} or Backend
        Where the weights live and the math runs (see :mod:`nnmath.backend`). The weights
        are drawn with NumPy and moved, so a seed gives the same network on every backend.
    device : {"cpu", "cuda"}, optional
        The backend's device (default: "cpu", or "cuda" for cupy).
    dropout : float or sequence of float
        Inverted dropout during :meth:`fit` (Nielsen, chapter 3): the probability of dropping
        a hidden unit, one for all hidden layers or one per hidden layer; 0 (default) is
        none. ``feedforward``, ``predict`` and ``cost`` never drop (see :mod:`nnmath.dropout`).

    Attributes
    ----------
    sizes : list of int
        Units per layer, input first.
    L : int
        The lecture's number of layers, ``len(sizes)`` (input and output included).
    weights : list of arrays, ``weights[i].shape == (sizes[i+1], sizes[i])``
    biases : list of arrays, ``biases[i].shape == (sizes[i+1],)``
        Arrays of ``backend`` (NumPy arrays, torch tensors, CuPy arrays).
    backend : Backend
    dtype : numpy.dtype
    activation_functions : list of Activation, one per layer of weights
    cost_function : Cost
    init : str
        The name of the initialisation.
    rng : numpy.random.Generator
        Drew the initial weights; shuffles fit's mini-batches unless fit is given its own.
    dropout : tuple of float, one per hidden layer
    """

    layered = False  # a network of nnmath.layers beyond Input + Dense is a LayerNetwork

    def __new__(cls, sizes: Any = None, *args: Any, **kwargs: Any) -> Network:
        """``Network(layers)`` with layers beyond ``Input(n)`` and ``Dense`` is a
        :class:`~nnmath.layer_network.LayerNetwork` (the same class, layer by layer)."""
        if cls is Network and is_layer_list(sizes) and dense_sizes(sizes) is None:
            from .layer_network import LayerNetwork  # the layers' path, a layer above

            return super().__new__(LayerNetwork)
        return super().__new__(cls)

    def __init__(
        self,
        sizes: Sequence[int] | Sequence[Layer],
        activation: str | Activation | Sequence[str | Activation] = "sigmoid",
        output_activation: str | Activation | None = None,
        cost: str | Cost = "quadratic",
        init: str = "normal",
        seed: int | None = None,
        dtype: str | Any = "float32",
        rng: np.random.Generator | None = None,
        backend: str | Backend = "numpy",
        device: str | None = None,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        if is_layer_list(sizes):  # Input(n) and Dense layers only: exactly the sizes network
            sizes, activation = sizes_network_arguments(
                sizes, activation, output_activation, dropout
            )
        self.backend = get_backend(backend, device)
        self.sizes = validation.check_sizes(sizes)
        self.dropout = _dropout.check_dropout(dropout, len(self.sizes) - 2)
        self.L = len(self.sizes)
        self.dtype = resolve_dtype(dtype)
        validation.check_memory(  # before any allocation: [784, 10**9, 10] is refused here
            validation.parameter_bytes(self.sizes, self.dtype), f"a network of sizes {self.sizes}"
        )
        self.cost_function = get_cost(cost)
        self.activation_functions = layer_activations(
            activation, output_activation, len(self.sizes) - 1, self.cost_function
        )
        self.init = init
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.weights, self.biases = initialize(self.sizes, init, self.rng, self.dtype)
        if self.backend.name != "numpy":  # drawn on the host, moved to the device once
            self.to(self.backend)

    @property
    def cost_name(self) -> str:
        return self.cost_function.name

    @property
    def layers(self) -> list[Layer]:
        """The network as :mod:`nnmath.layers`: ``Input(sizes[0])`` and one Dense per layer of
        weights, each holding this network's ``W`` and ``b`` (the same arrays)."""
        out: list[Layer] = [Input(self.sizes[0])]
        for W, b, sigma in zip(self.weights, self.biases, self.activation_functions):
            dense = Dense(W.shape[0], sigma)
            dense.input_shape, dense.output_shape = (W.shape[1],), (W.shape[0],)
            dense.W, dense.b = W, b
            out.append(dense)
        return out

    @property
    def n_layers(self) -> int:
        """Number of layers of weights, L − 1."""
        return len(self.weights)

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def config(self) -> dict[str, Any]:
        """The architecture as plain Python values (what a saved model stores beside weights)."""
        return {
            "sizes": list(self.sizes),
            "activations": [{"name": act.name, **act.params} for act in self.activation_functions],
            "cost": self.cost_function.name,
            "init": self.init,
            "dtype": np.dtype(self.dtype).name,
        }

    def __repr__(self) -> str:
        acts = [a.name for a in self.activation_functions]
        where = ""
        if self.backend.name != "numpy":
            where = f", backend={self.backend.name!r}, device={self.backend.device!r}"
        return (
            f"Network(sizes={self.sizes}, activations={acts}, cost={self.cost_name!r}, "
            f"dtype={np.dtype(self.dtype).name!r}{where})"
        )

    def _repr_html_(self) -> str:  # a notebook's display: the layer table and a diagram
        from .display import network_html

        return network_html(self)

    def to(self, backend: str | Backend, device: str | None = None) -> Network:
        """Move the weights and biases to ``backend`` on ``device``; returns ``self``.

        ``net.to("torch", "cuda")`` puts every ``W^l``, ``b^l`` on the GPU as torch tensors;
        ``net.to("numpy")`` brings them back. Values are copied exactly (same dtype) into
        new arrays: arrays taken from ``net.weights`` before the move are not trained after it.

        Raises
        ------
        ValueError, ImportError
            See :func:`nnmath.backend.get_backend` (unknown backend, package not installed,
            no GPU present).
        RuntimeError
            While another thread is training the network (it would update the old arrays).
        """
        refuse_while_training(self, "net.to(...)")
        self.backend = target = get_backend(backend, device)
        self.weights = [target.asarray(W, self.dtype, copy=True) for W in self.weights]
        self.biases = [target.asarray(b, self.dtype, copy=True) for b in self.biases]
        return self

    def forward(self, a: Any, masks: Sequence[Any] | None = None) -> tuple[list[Any], list[Any]]:
        """Feed columns forward and keep every z^l and a^l.

        ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)`` for l = 2, …, L. With dropout ``masks``
        (see :meth:`dropout_masks`) a hidden layer passes ``a^l ⊙ mask^l`` on instead.

        Parameters
        ----------
        a : array, shape (sizes[0], m)
            Input examples as columns (``a^1 = x``).
        masks : list of arrays (sizes[i+1], m) or None, optional
            One per layer of weights; ``None`` entries (and the default) drop nothing.

        Returns
        -------
        zs : list of arrays (sizes[i+1], m)
        activations : list of arrays (sizes[i], m), ``activations[0] is a``; the σ(z^l)
            before any mask.
        """
        zs, activations = [], [a]
        masks = masks if masks is not None else [None] * self.n_layers
        for W, b, sigma, mask in zip(self.weights, self.biases, self.activation_functions, masks):
            z = dense_z(W, a, b)  # z^l = W^l a^{l-1} + b^l
            a = sigma(z)  # a^l = σ(z^l)
            zs.append(z)
            activations.append(a)
            if mask is not None:
                a = a * mask  # inverted dropout: the next layer sees a^l ⊙ mask^l
        return zs, activations

    def feedforward(self, X: Any) -> Any:
        """The network's output ŷ = a^L for each row of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, sizes[0]) or (sizes[0],)

        Returns
        -------
        A : array of the network's backend, shape (n_samples, sizes[-1])
            (``nnmath.backend.to_numpy(A)`` brings a GPU / torch result to the host.)
        """
        return output(self, self.check_inputs(X))

    def backprop(self, X: Any, Y: Any) -> Gradients:
        """Gradients of the *mean* cost over the rows of ``X``, by the lecture's four equations.

        Parameters
        ----------
        X : array-like, shape (m, sizes[0])
        Y : array-like, shape (m, sizes[-1]) or integer labels (m,)

        Returns
        -------
        Gradients
            ``nabla_w``, ``nabla_b`` (shaped like ``weights``, ``biases``) and the per-layer
            ``deltas``, ``zs`` and ``activations``.
        """
        x = self.check_inputs(X)
        y = self.check_targets(Y, x.shape[0])
        return self.backprop_columns(x.T, y.T)

    def backprop_columns(self, x: Any, y: Any, masks: Sequence[Any] | None = None) -> Gradients:
        """Backpropagation on a mini-batch of columns.

        1. δ^L = ∂C/∂a^L ⊙ σ'(z^L)                    (output error)
        2. δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)       (l = L−1, …, 2)
        3. ∂C/∂b^l = δ^l                              (averaged over the m columns)
        4. ∂C/∂w^l = δ^l (a^{l−1})ᵀ                   (summed over columns, divided by m)

        For softmax layers ``⊙ σ'(z)`` is the Jacobian-transpose product ``σ.vjp``. With
        dropout ``masks`` a hidden layer passed ``a^l ⊙ mask^l`` on, so equation 4 takes that
        and equation 2 gains the factor: ``δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ mask^l ⊙ σ'(z^l)``.

        Parameters
        ----------
        x : array, shape (sizes[0], m)
        y : array, shape (sizes[-1], m)
        masks : list of arrays (sizes[i+1], m) or None, optional
            Dropout masks (:meth:`dropout_masks`); ``None`` drops nothing.
        """
        zs, activations = self.forward(x, masks)
        n = self.n_layers
        masks = masks if masks is not None else [None] * n
        passed = [activations[0]]  # what each layer passed on: a^l, or a^l ⊙ mask^l
        passed += [a if mk is None else a * mk for a, mk in zip(activations[1:], masks)]
        deltas: list[Any] = [None] * n
        nabla_w: list[Any] = [None] * n
        nabla_b: list[Any] = [None] * n
        sigma = self.activation_functions
        delta = self.cost_function.delta(zs[-1], activations[-1], y, sigma[-1])  # δ^L
        for i in range(n - 1, -1, -1):
            deltas[i] = delta
            nabla_w[i], nabla_b[i] = dense_gradients(delta, passed[i])  # eqs. 4 and 3
            if i > 0:
                g = self.weights[i].T @ delta  # (w^{l+1})^T δ^{l+1}
                if masks[i - 1] is not None:
                    g = g * masks[i - 1]  # ⊙ mask^l: a dropped unit passed nothing on
                delta = sigma[i - 1].vjp(zs[i - 1], activations[i], g)  # ⊙ σ'(z^l)
        return Gradients(nabla_w, nabla_b, deltas, zs, activations)

    def update_state(self, grads: Gradients) -> None:
        """Fold a training step's measurements into the layers' state: a dense network keeps
        none (a network of layers with BatchNorm does, :mod:`nnmath.layer_network`)."""

    def dropout_masks(self, key: int, start: int, m: int) -> list[Any] | None:
        """The dropout masks of the ``m`` examples at positions ``start, …`` of an epoch whose
        dropout key is ``key`` (``fit`` draws one per epoch), on the network's backend, for
        :meth:`backprop_columns`; ``None`` when the network has no dropout."""
        if not any(self.dropout):
            return None
        host = _dropout.masks(self.sizes, self.dropout, key, start, m, self.dtype)
        if self.backend.name == "numpy":
            return host
        return [None if mk is None else self.backend.asarray(mk, self.dtype) for mk in host]

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (argmax of a^L) for a classifier; for one output unit, the output itself
        (thresholded at 1/2 when the output is a sigmoid). A NumPy array on every backend."""
        A = self.feedforward(X)
        if self.n_outputs > 1:
            return to_numpy(get_namespace(A).argmax(A, axis=1))
        if self.activation_functions[-1].name == "sigmoid":
            return (to_numpy(A[:, 0]) >= 0.5).astype(np.int64)
        return to_numpy(A[:, 0])

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of rows whose predicted class equals ``y`` (labels or one-hot rows)."""
        X = self.check_inputs(X)
        labels = validation.labels_of(y, X.shape[0], self.n_outputs)
        return float(np.mean(self.predict(X) == labels))

    def cost(self, X: Any, Y: Any, lmbda: float = 0.0) -> float:
        """Mean cost over the rows, ``(1/n) Σ_x C_x``, plus ``(λ/2n) Σ ‖w‖²`` when ``lmbda > 0``."""
        X = self.check_inputs(X)
        Y = self.check_targets(Y, X.shape[0])
        n = X.shape[0]
        xp = get_namespace(X)
        c = _total_cost(chunk_scores(self, X, Y, None, range(n_chunks(n)))) / n
        if lmbda:
            c += 0.5 * lmbda / n * sum(float(xp.sum(W * W)) for W in self.weights)
        return c

    def evaluate(self, X: Any, Y: Any) -> tuple[float, int]:
        """The mean cost ``(1/n) Σ_x C_x`` and the number of rows whose ``argmax a^L`` is the
        argmax of their target, from one forward pass over the rows (chunk by chunk).

        Parameters
        ----------
        X : array-like, shape (n, sizes[0])
        Y : array-like, shape (n, sizes[-1]) or integer labels (n,)

        Returns
        -------
        cost : float
            ``net.cost(X, Y)``, bit for bit.
        correct : int
            ``net.accuracy(X, Y) · n`` for a classifier (with one output unit every row counts).
        """
        X = self.check_inputs(X)
        Y = self.check_targets(Y, X.shape[0])
        labels = get_namespace(Y).argmax(Y, axis=1)
        scores = chunk_scores(self, X, Y, labels, range(n_chunks(X.shape[0])))
        return _total_cost(scores) / X.shape[0], sum(hits for _, hits in scores)

    if TYPE_CHECKING:  # what IDEs and type checkers read: the functions themselves
        from .io import save
        from .train import fit
    else:
        fit = _FromAbove(_train_fit)
        save = _FromAbove(_io_save)

    def copy_parameters(self) -> tuple[list[Any], list[Any]]:
        """Copies of ``weights`` and ``biases`` (on the network's backend and device)."""
        copy = self.backend.copy
        return [copy(W) for W in self.weights], [copy(b) for b in self.biases]

    def set_parameters(self, weights: list[Any], biases: list[Any]) -> None:
        """Copy ``weights`` and ``biases`` into the network's own arrays (keeps the buffers).

        The new values may be NumPy arrays or arrays of the network's backend.
        """
        move = self.backend.asarray
        for W, W_new in zip(self.weights, weights):
            W[...] = move(W_new, self.dtype)
        for b, b_new in zip(self.biases, biases):
            b[...] = move(b_new, self.dtype)

    def check_inputs(self, X: Any) -> Any:
        """``X`` checked, cast to ``dtype`` and on the network's device (moved at most once).

        Parameters
        ----------
        X : array-like, shape (n_samples, sizes[0]) or (sizes[0],)
            Examples as rows; one example may be given as a vector.

        Returns
        -------
        array of the network's backend, shape (n_samples, sizes[0]), C-ordered

        Raises
        ------
        TypeError, ValueError
            What was wrong and what to do (:func:`nnmath.validation.check_inputs`): not
            numeric, not 2-D, ``X has 780 features, the network expects 784 (sizes[0])``,
            no rows, NaN or inf.
        """
        return inputs_on_device(self, X)

    def check_targets(self, Y: Any, n: int | None = None) -> Any:
        """``Y`` as one row of ``sizes[-1]`` targets per example (integer labels one-hot), of
        ``dtype`` and on the network's device.

        Parameters
        ----------
        Y : array-like, shape (n, sizes[-1]) or integer labels (n,)
        n : int, optional
            The number of rows of the ``X`` it goes with (default: ``len(Y)``).

        Returns
        -------
        array of the network's backend, shape (n, sizes[-1])

        Raises
        ------
        TypeError, ValueError
            What was wrong and what to do (:func:`nnmath.validation.check_targets`).
        """
        return targets_on_device(self, Y, len(Y) if n is None else n)


def _total_cost(scores: list[tuple[float, int]]) -> float:
    """Σ_x C_x of every chunk, added in chunk order (fit's threaded sum agrees bit for bit)."""
    total = 0.0
    for chunk_cost, _ in scores:
        total += chunk_cost
    return total
