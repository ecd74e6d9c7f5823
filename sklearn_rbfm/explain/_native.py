"""The native relevance engine: LRP, deep Taylor and gradients in eager TensorFlow.

Design
------
The Keras model is read as a graph of layer calls (nested functional models
are inlined), so that branching networks -- Concatenate and Add in the
Inception family -- are handled like chains. A forward pass over a batch
keeps every intermediate tensor; the backward pass then visits the layer
calls in reverse topological order and maps the relevance of each layer's
output onto its inputs by the method's rule, summing where a tensor feeds
several layers. Everything runs eagerly in the calling process.

Linear layers (Dense, Conv1D, Conv2D, BatchNormalization on its own) are
written as ``z = f(x; W) + b``; every LRP rule reduces to products of the
input with a vector-Jacobian product ``W^T s`` of ``f``, taken with
:class:`tf.GradientTape` (a matrix product for Dense). A BatchNormalization
that directly follows a linear kernel layer is folded into its kernel and
bias first, which leaves the logits unchanged.

The rules are those of iNNvestigate 2.1.2, so that the two engines agree on
every network both can analyse: LRP-z divides by ``z`` with zeros replaced
by ``1e-7``; LRP-epsilon adds ``epsilon * sign(z)`` (``sign(0) = 1``);
LRP-alpha-beta splits inputs and weights into positive and negative parts
and keeps the bias in the denominators; deep Taylor explains
``relu(logit)`` with the z+ rule (alpha=1, beta=0, biases ignored) at every
kernel layer, and optionally the w^2 or the bounded z^B rule at the input
layer. Where iNNvestigate routes relevance by the gradient (average
pooling and Add under deep Taylor), this engine redistributes it in
proportion to the inputs' contributions, which conserves it.
"""

import numpy as np

from .._relevance_worker import ANALYZERS

# every iNNvestigate analyzer but the two that explain by a modified
# backward pass of ReLUs rather than by relevance
METHODS = tuple(m for m in ANALYZERS if m not in ("guided_backprop", "deconvnet"))

GRADIENT_METHODS = frozenset(
    {"gradient", "input_t_gradient", "integrated_gradients", "smoothgrad"}
)

# Keras' epsilon, which iNNvestigate's safe division puts in place of a zero.
_SAFE_EPS = 1e-7

_RESHAPING = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "GaussianDropout",
        "AlphaDropout",
        "Flatten",
        "Reshape",
        "Permute",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "Cropping1D",
        "Cropping2D",
        "Concatenate",
        "MaxPooling1D",
        "MaxPooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
    }
)
_PROPORTIONAL = frozenset(
    {
        "AveragePooling1D",
        "AveragePooling2D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "Resizing",
    }
)
_KERNEL = frozenset({"Dense", "Conv1D", "Conv2D"})
_ACTIVATIONS = frozenset({"Activation", "ReLU", "Softmax"})
# Rescales each sample as a whole; relevance passes through it unchanged
# (the identity rule), as it does through an activation.
_IDENTITY = frozenset({"LayerNormalization"})
# Input-side layers that keep a kernel layer "the input layer" (as in
# iNNvestigate: they only rearrange the input values).
_REARRANGING = frozenset({"Flatten", "Reshape", "Permute"})

_METHOD_KWARGS = {
    "deep_taylor": {"input_layer_rule"},
    "deep_taylor.bounded": {"low", "high"},
    "lrp.z": {"input_layer_rule"},
    "lrp.z_plus": {"input_layer_rule"},
    "lrp.epsilon": {"epsilon", "bias", "input_layer_rule"},
    "lrp.w_square": {"input_layer_rule"},
    "lrp.flat": {"input_layer_rule"},
    "lrp.alpha_beta": {"alpha", "beta", "bias", "input_layer_rule"},
    "lrp.alpha_1_beta_0": {"input_layer_rule"},
    "lrp.alpha_2_beta_1": {"input_layer_rule"},
    "gradient": {"postprocess"},
    "input_t_gradient": set(),
    "integrated_gradients": {"steps", "reference_inputs", "postprocess"},
    "smoothgrad": {"augment_by_n", "noise_scale", "postprocess", "random_state"},
}


def relevance(model, X, method, targets, batch_size, kwargs):
    """Relevance of ``X`` for the class ``targets[i]`` of each sample.

    ``targets`` is None (explain each sample's highest-scoring class) or an
    array of class indices; ``X`` is float32 of the model's input shape.
    """
    from .._keras import import_tensorflow

    tf = import_tensorflow()

    _check_kwargs(method, kwargs)
    graph = _Graph(model)
    if method in GRADIENT_METHODS:
        explain = _GradientExplainer(graph, method, kwargs)
    else:
        explain = _RuleExplainer(graph, method, kwargs)
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, len(X), batch_size):
        rows = slice(start, start + batch_size)
        x = tf.convert_to_tensor(X[rows])
        t = None if targets is None else tf.convert_to_tensor(targets[rows], tf.int32)
        out[rows] = explain(x, t).numpy()
    return out


def n_classes(model):
    """Number of classes the model's output scores (2 for one sigmoid unit)."""
    return _Graph(model).n_classes


def _check_kwargs(method, kwargs):
    allowed = _METHOD_KWARGS[method]
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"The relevance method {method!r} got unexpected argument(s) "
            f"{unknown!r}; it accepts {sorted(allowed)!r}."
        )
    if method == "deep_taylor.bounded" and (
        kwargs.get("low") is None or kwargs.get("high") is None
    ):
        raise ValueError(
            "The relevance method 'deep_taylor.bounded' needs the input range: "
            "pass low=... and high=... (the smallest and largest input value)."
        )


class _Op:
    """One call of a layer in the (flattened) graph."""

    def __init__(self, layer, node, inputs, outputs):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        self.layer = layer
        self.kind = type(layer).__name__
        self.inputs = inputs
        self.outputs = outputs
        self._structure = (node.call_args, node.call_kwargs)
        self._flat = tf.nest.flatten(self._structure)
        self._slots = [i for i, v in enumerate(self._flat) if _is_keras_tensor(v)]
        self.linear = None
        # layers may declare their rule ("rearrange", "proportional" or
        # "identity": a rescaling of each sample as a whole)
        declared = getattr(layer, "relevance_rule", None)
        self.family = (
            "rearrange" if self.kind in _RESHAPING or declared == "rearrange"
            else "proportional" if self.kind in _PROPORTIONAL or declared == "proportional"
            else "identity" if self.kind in _IDENTITY or declared == "identity"
            else None
        )

    def call(self, values):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        flat = list(self._flat)
        for slot, value in zip(self._slots, values):
            flat[slot] = value
        args, kwargs = tf.nest.pack_sequence_as(self._structure, flat)
        return tf.nest.flatten(self.layer(*args, **kwargs))

    def describe(self):
        return f"{self.layer.name!r} ({self.kind})"


def _is_keras_tensor(value):
    return hasattr(value, "_keras_history") and hasattr(value, "type_spec")


class _Graph:
    """A Keras model as a topologically ordered list of layer calls."""

    def __init__(self, model):
        if not getattr(model, "_is_graph_network", False):
            raise ValueError(
                f"Model {model.name!r} has no layer graph (a subclassed model, or a "
                "Sequential model built without an input shape); relevance needs a "
                "functional or Sequential model with a known input shape."
            )
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                f"Model {model.name!r} has {len(model.inputs)} inputs and "
                f"{len(model.outputs)} outputs; relevance needs one of each."
            )
        self.ops = []
        self.input_key = ((), id(model.inputs[0]))
        self._expand(model, (), {})
        self._find_output(((), id(model.outputs[0])))
        self._fold_batch_norm()

    def _expand(self, model, scope, rename):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        def key(tensor):
            return rename.get(id(tensor), (scope, id(tensor)))

        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                inputs = [key(t) for t in node.keras_inputs]
                outputs = [key(t) for t in tf.nest.flatten(node.outputs)]
                layer = node.layer
                if getattr(layer, "_is_graph_network", False):
                    inner = dict(zip(map(id, layer.inputs), inputs))
                    inner.update(zip(map(id, layer.outputs), outputs))
                    self._expand(layer, scope + (id(node),), inner)
                else:
                    self.ops.append(_Op(layer, node, inputs, outputs))

    def _find_output(self, output_key):
        producer = {k: op for op in self.ops for k in op.outputs}
        op = producer[output_key]
        self.head_activation = None
        if op.kind in _ACTIVATIONS:
            self.head_activation = op
            op = producer[op.inputs[0]]
        if op.kind != "Dense":
            raise ValueError(
                f"The output layer {op.layer.name!r} is a {op.kind}; relevance "
                "analysis needs a Dense output layer (optionally followed by a "
                "softmax or sigmoid activation)."
            )
        self.head = op
        units = int(op.layer.units)
        self.n_classes = 2 if units == 1 else units
        self.logit_key = op.outputs[0] + ("logit",)

    def _fold_batch_norm(self):
        producer = {k: op for op in self.ops for k in op.outputs}
        consumers = {}
        for op in self.ops:
            for k in op.inputs:
                consumers[k] = consumers.get(k, 0) + 1
        for op in self.ops:
            if op.kind in _KERNEL:
                op.linear = op.own_linear = _Linear.of_kernel(op.layer)
        for op in self.ops:
            if op.kind != "BatchNormalization":
                continue
            bn = _batch_norm_affine(op)
            before = producer.get(op.inputs[0])
            if (
                before is not None
                and before.kind in _KERNEL
                and before is not self.head
                and consumers.get(op.inputs[0]) == 1
                and _activation_name(before.layer) == "linear"
            ):
                before.linear = before.linear.followed_by(*bn)
                op.folded = True
            else:
                op.linear = _Linear("scale", None, *bn)
                op.folded = False
        if self.head.layer.units == 1:
            self.head.linear = self.head.linear.paired()

    def forward(self, x, keep=True):
        """Values of every tensor (``keep``) or only the logits, for input x."""
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        values = {self.input_key: x}
        consumers = None if keep else self._consumer_counts()
        for op in self.ops:
            if op is self.head_activation:
                continue
            args = [values[k] for k in op.inputs]
            if op is self.head:
                values[self.logit_key] = op.linear.apply(args[0])
                break
            if op.kind in _KERNEL:
                out = [op.layer.activation(op.own_linear.apply(args[0]))]
            else:
                out = op.call(args)
            values.update(zip(op.outputs, out))
            if consumers is not None:
                for k in op.inputs:
                    consumers[k] -= 1
                    if consumers[k] == 0 and k != self.input_key:
                        del values[k]
        logits = values[self.logit_key]
        return values, tf.reshape(logits, (-1, self.n_classes))

    def _consumer_counts(self):
        counts = {}
        for op in self.ops:
            for k in op.inputs:
                counts[k] = counts.get(k, 0) + 1
        return counts

    def input_layer_ops(self):
        """Kernel layer calls that read the model input (up to reshaping)."""
        producer = {k: op for op in self.ops for k in op.outputs}
        found = set()
        for op in self.ops:
            if op.linear is None or op.kind == "BatchNormalization":
                continue
            key = op.inputs[0]
            while key in producer and producer[key].kind in _REARRANGING:
                key = producer[key].inputs[0]
            if key == self.input_key:
                found.add(id(op))
        return found


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _batch_norm_affine(op):
    """Per-channel (scale, shift) of a BatchNormalization in inference mode."""
    from .._keras import import_tensorflow

    tf = import_tensorflow()

    layer = op.layer
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rank = len(op.layer.input_shape) if not isinstance(layer.input_shape, list) else None
    if rank is None or [a % rank for a in axis] != [rank - 1]:
        raise ValueError(
            f"Layer {op.describe()} normalises axis {layer.axis}; relevance "
            "supports batch normalisation over the last (channel) axis only."
        )
    scale = tf.math.rsqrt(layer.moving_variance + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * layer.gamma
    shift = -layer.moving_mean * scale
    if layer.beta is not None:
        shift = shift + layer.beta
    return scale, shift


class _Linear:
    """``z = f(x; kernel) + bias`` of a Dense, Conv1D/2D or per-channel scale."""

    def __init__(self, kind, layer, kernel, bias):
        self.kind = kind
        self.layer = layer
        self.kernel = kernel
        self.bias = bias

    @classmethod
    def of_kernel(cls, layer):
        kind = type(layer).__name__
        if kind != "Dense":
            if layer.data_format != "channels_last" or layer.padding == "causal" or (
                getattr(layer, "groups", 1) != 1
            ):
                raise ValueError(
                    f"Layer {layer.name!r} ({kind}) uses data_format="
                    f"{layer.data_format!r}, padding={layer.padding!r}, groups="
                    f"{getattr(layer, 'groups', 1)}; relevance supports "
                    "channels_last convolutions with 'valid' or 'same' padding "
                    "and groups=1."
                )
        bias = layer.bias if getattr(layer, "use_bias", False) else None
        return cls(kind, layer, layer.kernel, bias)

    def followed_by(self, scale, shift):
        bias = shift if self.bias is None else self.bias * scale + shift
        return _Linear(self.kind, self.layer, self.kernel * scale, bias)

    def paired(self):
        """One sigmoid unit as the two logits (-z, z) of classes 0 and 1."""
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        bias = None if self.bias is None else tf.concat([-self.bias, self.bias], -1)
        return _Linear(self.kind, self.layer, tf.concat([-self.kernel, self.kernel], -1), bias)

    def apply(self, x, kernel=None, bias=True):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        kernel = self.kernel if kernel is None else kernel
        if self.kind == "scale":
            z = x * kernel
        elif self.kind == "Dense":
            if x.shape.rank == 2:
                z = tf.matmul(x, kernel)
            else:
                z = tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]])
        else:
            layer = self.layer
            z = tf.nn.convolution(
                x, kernel, strides=layer.strides, padding=layer.padding.upper(),
                dilations=layer.dilation_rate,
            )
        if bias is True:
            bias = self.bias
        if bias is not None:
            z = z + bias
        return z

    def transpose(self, x, s, kernel=None):
        """``W^T s``: the vector-Jacobian product of the bias-free map at ``x``."""
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        kernel = self.kernel if kernel is None else kernel
        if self.kind == "scale":
            return s * kernel
        if self.kind == "Dense":
            if s.shape.rank == 2:
                return tf.matmul(s, kernel, transpose_b=True)
            return tf.tensordot(s, kernel, [[s.shape.rank - 1], [1]])
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = self.apply(x, kernel, bias=None)
        return tape.gradient(z, x, output_gradients=s)


def _safe_divide(a, b):
    from .._keras import import_tensorflow

    tf = import_tensorflow()

    return a / (b + _SAFE_EPS * tf.cast(tf.equal(b, 0), b.dtype))


class _Rule:
    """An LRP rule for linear layers, with its modified weights cached."""

    def __init__(self, name, **params):
        self.name = name
        self.params = params
        self._cache = {}

    def _weights(self, linear):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        entry = self._cache.get(id(linear))
        if entry is None:
            k = linear.kernel
            entry = (linear, {
                "kp": k * tf.cast(k > 0, k.dtype),
                "kn": k * tf.cast(k < 0, k.dtype),
                "k2": tf.square(k),
                "k1": tf.ones_like(k),
            })
            # holding the linear map keeps its id from being reused
            self._cache[id(linear)] = entry
        return entry[1]

    def __call__(self, linear, x, R):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        name, p = self.name, self.params
        if name in ("z", "epsilon"):
            z = linear.apply(x, bias=True if p.get("bias", True) else None)
            if name == "z":
                s = _safe_divide(R, z)
            else:
                sign = tf.cast(z >= 0, z.dtype) * 2 - 1
                s = R / (z + sign * p["epsilon"])
            return x * linear.transpose(x, s)
        w = self._weights(linear)
        if name in ("w_square", "flat"):
            kernel = w["k2"] if name == "w_square" else w["k1"]
            z = linear.apply(tf.ones_like(x), kernel, bias=None)
            return linear.transpose(x, _safe_divide(R, z), kernel)
        if name == "bounded":
            low = tf.fill(tf.shape(x), tf.cast(p["low"], x.dtype))
            high = tf.fill(tf.shape(x), tf.cast(p["high"], x.dtype))
            z = (
                linear.apply(x, bias=None)
                - linear.apply(low, w["kp"], bias=None)
                - linear.apply(high, w["kn"], bias=None)
            )
            s = _safe_divide(R, z)
            return (
                x * linear.transpose(x, s)
                - low * linear.transpose(x, s, w["kp"])
                - high * linear.transpose(x, s, w["kn"])
            )
        # alpha-beta: positive and negative contributions apart
        alpha, beta, bias = p["alpha"], p["beta"], p.get("bias", True)
        xp = tf.nn.relu(x)
        xn = x - xp
        has_negative = bool(tf.reduce_any(xn < 0))
        b = linear.bias if bias else None

        def part(kernel_p, kernel_n):
            z = linear.apply(xp, kernel_p, bias=b)
            if has_negative:
                z = z + linear.apply(xn, kernel_n, bias=None)
            s = _safe_divide(R, z)
            out = xp * linear.transpose(x, s, kernel_p)
            if has_negative:
                out = out + xn * linear.transpose(x, s, kernel_n)
            return out

        activators = part(w["kp"], w["kn"])
        if not beta:
            return activators
        return alpha * activators - beta * part(w["kn"], w["kp"])


_INPUT_RULES = {"w_square", "flat", "z_plus"}


def _rules(method, kwargs):
    """(rule of kernel layers, rule of the input layer or None)."""
    if method.startswith("deep_taylor"):
        kernel = _Rule("alpha_beta", alpha=1, beta=0, bias=False)
    elif method == "lrp.z":
        kernel = _Rule("z")
    elif method == "lrp.epsilon":
        kernel = _Rule("epsilon", epsilon=float(kwargs.get("epsilon", 1e-7)),
                       bias=bool(kwargs.get("bias", True)))
    elif method == "lrp.z_plus":
        kernel = _Rule("alpha_beta", alpha=1, beta=0, bias=False)
    elif method in ("lrp.w_square", "lrp.flat"):
        kernel = _Rule(method[4:])
    else:
        alpha, beta = {
            "lrp.alpha_1_beta_0": (1, 0),
            "lrp.alpha_2_beta_1": (2, 1),
        }.get(method, (kwargs.get("alpha"), kwargs.get("beta")))
        alpha, beta = _alpha_beta(alpha, beta)
        kernel = _Rule("alpha_beta", alpha=alpha, beta=beta,
                       bias=bool(kwargs.get("bias", True)))
    if method == "deep_taylor.bounded":
        return kernel, _Rule("bounded", low=kwargs["low"], high=kwargs["high"])
    spec = kwargs.get("input_layer_rule")
    if spec is None:
        return kernel, None
    if isinstance(spec, tuple) and len(spec) == 2:
        return kernel, _Rule("bounded", low=spec[0], high=spec[1])
    if spec in _INPUT_RULES:
        if spec == "z_plus":
            return kernel, _Rule("alpha_beta", alpha=1, beta=0, bias=False)
        return kernel, _Rule(spec)
    raise ValueError(
        f"input_layer_rule must be None, 'w_square', 'flat', 'z_plus' or a "
        f"(low, high) tuple for the bounded z^B rule, got {spec!r}."
    )


def _alpha_beta(alpha, beta):
    if alpha is None and beta is None:
        raise ValueError("lrp.alpha_beta needs alpha or beta (alpha - beta = 1).")
    alpha = float(beta) + 1 if alpha is None else float(alpha)
    beta = alpha - 1 if beta is None else float(beta)
    if alpha - beta != 1 or beta < 0:
        raise ValueError(
            f"lrp.alpha_beta needs alpha - beta = 1 and beta >= 0, got "
            f"alpha={alpha}, beta={beta}."
        )
    return alpha, beta


class _RuleExplainer:
    """LRP and deep Taylor: a layer-by-layer backward pass of relevance."""

    def __init__(self, graph, method, kwargs):
        self.graph = graph
        self.deep_taylor = method.startswith("deep_taylor")
        self.kernel_rule, self.input_rule = _rules(method, kwargs)
        self.input_ops = graph.input_layer_ops() if self.input_rule else set()
        self._check(method)

    def _check(self, method):
        bad = []
        for op in self.graph.ops:
            if op is self.graph.head_activation or op is self.graph.head:
                continue
            if op.kind in _KERNEL or op.kind in _ACTIVATIONS:
                name = _activation_name(op.layer) if op.kind != "ReLU" else "relu"
                if op.kind == "Softmax":
                    name = "softmax"
                if self.deep_taylor and name not in ("relu", "linear"):
                    bad.append((op, f"its activation is {name!r}; deep Taylor "
                                "decomposition needs ReLU networks"))
            elif op.kind in ("Add", "CustomScaleLayer", "BatchNormalization"):
                continue
            elif op.kind == "Lambda" and _scaled_residual(op) is not None:
                continue
            elif op.family is None:
                bad.append((op, "no relevance rule is defined for it"))
        if bad:
            where = ", ".join(op.describe() for op, _ in bad)
            raise ValueError(
                f"The relevance method {method!r} cannot analyse layer(s) {where}: "
                f"{bad[0][1]}. Supported layers: Dense, Conv1D/2D, "
                "BatchNormalization, ReLU activations, pooling, Flatten, Reshape, "
                "Dropout, ZeroPadding, Concatenate, Add; gradient methods "
                "('gradient', 'integrated_gradients', ...) take any layer."
            )

    def __call__(self, x, targets):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        graph = self.graph
        values, logits = graph.forward(x)
        if targets is None:
            targets = tf.argmax(logits, axis=1, output_type=tf.int32)
        start = tf.one_hot(targets, graph.n_classes, dtype=logits.dtype) * logits
        if self.deep_taylor:
            start = tf.nn.relu(start)
        head = graph.head
        start = tf.reshape(start, tf.shape(values[graph.logit_key]))
        x_head = values[head.inputs[0]]
        R = {head.inputs[0]: self._linear_rule(head, head.linear, x_head, start)}
        for op in reversed(graph.ops[: graph.ops.index(head)]):
            out = [R.pop(k, None) for k in op.outputs]
            if all(r is None for r in out):
                continue
            inputs = [values[k] for k in op.inputs]
            for key, r in zip(op.inputs, self._backward(op, inputs, out[0])):
                R[key] = r if key not in R else R[key] + r
        return R.get(graph.input_key, tf.zeros_like(x))

    def _linear_rule(self, op, linear, x, R):
        rule = self.input_rule if id(op) in self.input_ops else self.kernel_rule
        return rule(linear, x, R)

    def _backward(self, op, inputs, R):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        kind = op.kind
        if kind in _KERNEL:
            return [self._linear_rule(op, op.linear, inputs[0], R)]
        if kind == "BatchNormalization":
            if op.folded:
                return [R]
            return [self._linear_rule(op, op.linear, inputs[0], R)]
        if kind in _ACTIVATIONS or op.family == "identity":
            return [R]
        if op.family == "rearrange":
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                out = op.call(inputs)[0]
            return tape.gradient(out, inputs, output_gradients=R)
        if op.family == "proportional":
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                out = op.call(inputs)[0]
            grads = tape.gradient(out, inputs, output_gradients=_safe_divide(R, out))
            return [x * g for x, g in zip(inputs, grads)]
        # Add, and the scaled residual a + scale * b of InceptionResNetV2
        scales = [1.0] * len(inputs)
        if kind != "Add":
            scales = [1.0, _scaled_residual(op)]
        parts = [x * s for x, s in zip(inputs, scales)]
        s = _safe_divide(R, tf.add_n(parts))
        return [p * s for p in parts]


def _scaled_residual(op):
    """The scale of a CustomScaleLayer / Lambda computing ``a + scale * b``."""
    layer = op.layer
    if op.kind == "CustomScaleLayer":
        return float(layer.scale)
    arguments = getattr(layer, "arguments", None) or {}
    if op.kind == "Lambda" and set(arguments) == {"scale"} and len(op.inputs) == 2:
        return float(arguments["scale"])
    return None


class _GradientExplainer:
    """Gradient, input x gradient, integrated gradients and SmoothGrad."""

    def __init__(self, graph, method, kwargs):
        from .._keras import import_tensorflow

        tf = import_tensorflow()
        from sklearn.utils import check_random_state

        self.graph = graph
        self.method = method
        self.postprocess = kwargs.get("postprocess")
        if self.postprocess not in (None, "abs", "square"):
            raise ValueError(
                f"postprocess must be None, 'abs' or 'square', got {self.postprocess!r}."
            )
        self.steps = int(kwargs.get("steps", 64))
        self.reference = kwargs.get("reference_inputs", 0)
        self.n_noise = int(kwargs.get("augment_by_n", 64))
        self.noise_scale = float(kwargs.get("noise_scale", 1.0))
        # TensorFlow draws the noise several times faster than NumPy; the
        # generator is seeded from random_state, so results are repeatable
        seed = check_random_state(kwargs.get("random_state")).randint(2**31)
        self.noise = tf.random.Generator.from_seed(int(seed))

    def _gradient(self, x, targets):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        with tf.GradientTape() as tape:
            tape.watch(x)
            _, logits = self.graph.forward(x, keep=False)
            if targets is None:
                targets = tf.argmax(logits, axis=1, output_type=tf.int32)
            score = tf.reduce_sum(tf.one_hot(targets, self.graph.n_classes) * logits)
        return tape.gradient(score, x), targets

    def __call__(self, x, targets):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        method = self.method
        if method in ("gradient", "input_t_gradient"):
            grad, _ = self._gradient(x, targets)
            out = grad * x if method == "input_t_gradient" else grad
        else:
            if targets is None:
                # the class of the input itself, not of the path or noisy points
                _, logits = self.graph.forward(x, keep=False)
                targets = tf.argmax(logits, axis=1, output_type=tf.int32)
            out = self._averaged(x, targets)
        if self.postprocess == "abs":
            out = tf.abs(out)
        elif self.postprocess == "square":
            out = tf.square(out)
        return out

    def _averaged(self, x, targets):
        from .._keras import import_tensorflow

        tf = import_tensorflow()

        if self.method == "integrated_gradients":
            reference = tf.cast(tf.broadcast_to(self.reference, tf.shape(x)), x.dtype)
            total = tf.zeros_like(x)
            # iNNvestigate's left Riemann sum: alpha = 0, 1/steps, ..., 1 - 1/steps
            for alpha in np.arange(self.steps, dtype=np.float32) / self.steps:
                total += self._gradient(reference + alpha * (x - reference), targets)[0]
            return total / self.steps * (x - reference)
        total = tf.zeros_like(x)
        for _ in range(self.n_noise):
            noise = self.noise.normal(tf.shape(x), stddev=self.noise_scale, dtype=x.dtype)
            total += self._gradient(x + noise, targets)[0]
        return total / self.n_noise
