"""The training step on Keras's JAX backend: one `jax.jit`-compiled function per run.

The step is the TensorFlow loop's (`tfbert.training.trainer`): the loss is
`sum(sums[c] / counts[c])` with counts over the whole global batch, `accumulation_steps`
micro-batches add their gradients before one optimizer update, the optimizer clips the
global norm, and weights the loss does not reach get no update (no weight decay either).
The model and optimizer state travel through the step as arrays (`model.stateless_call`,
the optimizer's `apply` in a `StatelessScope`), so XLA compiles forward, backward and
update as one program. Under `keras.distribution.DataParallel` the state is replicated
and the batch split over the devices by its first axis; XLA inserts the all-reduce.

Imports keras and jax only (no TensorFlow): `tools/bench_accelerator.py` runs this step on
a GPU host that has no TensorFlow.
"""

from __future__ import annotations

import jax
import keras
from keras import ops


def _loss(loss, outputs, targets, counts):
    sums = loss.sums(outputs, targets)
    return sum(sums[c] / counts[c] for c in sorted(sums))


def global_counts(loss, targets):
    """The loss's denominators over the batch, at least 1 (an empty count adds nothing)."""
    return {c: ops.maximum(n, 1.0) for c, n in loss.counts(targets).items()}


def unreached(model, loss, trainable, non_trainable, inputs, targets) -> set:
    """Positions in `model.trainable_variables` of the variables the loss does not depend
    on (the pooler under a token, span or mean-pooling head): a backward walk over the
    traced program from the loss to its inputs. The TensorFlow loop finds the same set as
    the variables whose gradient is None."""
    def fn(trainable):
        outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=True)
        return _loss(loss, outputs, targets, global_counts(loss, targets))

    jaxpr = jax.make_jaxpr(fn)(trainable).jaxpr
    needed = {v for v in jaxpr.outvars if not hasattr(v, "val")}   # Literals have .val
    for eqn in reversed(jaxpr.eqns):
        if any(v in needed for v in eqn.outvars):
            needed.update(v for v in eqn.invars if not hasattr(v, "val"))
    return {i for i, v in enumerate(jaxpr.invars) if v not in needed}


def refuse_loss_scaling(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise ValueError("--precision float16 needs dynamic loss scaling, which tfbert "
                         "runs on the TensorFlow backend only; use --precision bfloat16 on "
                         "JAX")


def make_train_step(model, loss, optimizer, accumulation_steps=1, unused=frozenset()):
    """`step(state, inputs, targets) -> (loss, state)`, jit-compiled, the state
    `(trainable, non_trainable, optimizer_variables)` as lists of arrays (`state_of`), the
    batch `accumulation_steps` micro-batches of consecutive rows."""
    trainable_variables = model.trainable_variables
    refuse_loss_scaling(optimizer)

    def gradients(trainable, non_trainable, inputs, targets, counts):
        def fn(trainable, non_trainable):
            outputs, non_trainable = model.stateless_call(
                trainable, non_trainable, inputs, training=True)
            value = _loss(loss, outputs, targets, counts)
            return value, (value, non_trainable)

        (_, (value, non_trainable)), grads = jax.value_and_grad(fn, has_aux=True)(
            trainable, non_trainable)
        return value, non_trainable, grads

    def step(state, inputs, targets):
        trainable, non_trainable, optimizer_values = state
        counts = global_counts(loss, targets)
        k = accumulation_steps
        if k == 1:
            value, non_trainable, grads = gradients(
                trainable, non_trainable, inputs, targets, counts)
        else:
            def micro(tensor):   # (k * b, ...) -> (k, b, ...)
                return ops.reshape(tensor, (k, -1) + tuple(tensor.shape[1:]))

            def body(carry, part):
                value, non_trainable, grads = carry
                micro_value, non_trainable, micro_grads = gradients(
                    trainable, non_trainable, part[0], part[1], counts)
                return (value + micro_value, non_trainable,
                        [a + g for a, g in zip(grads, micro_grads)]), None

            zeros = [ops.zeros(v.shape, v.dtype) for v in trainable_variables]
            (value, non_trainable, grads), _ = jax.lax.scan(
                body, (ops.zeros((), "float32"), non_trainable, zeros),
                jax.tree_util.tree_map(micro, (inputs, targets)))
        grads = [None if i in unused else g for i, g in enumerate(grads)]
        mapping = list(zip(trainable_variables, trainable)) + \
            list(zip(optimizer.variables, optimizer_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            optimizer.apply(grads, trainable_variables)
        trainable = [scope.get_current_value(v) for v in trainable_variables]
        optimizer_values = [scope.get_current_value(v) for v in optimizer.variables]
        return value, (trainable, non_trainable, optimizer_values)

    return jax.jit(step, donate_argnums=0)


def state_of(model, optimizer):
    """The step's state from the variables' current values."""
    return ([v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables])


def assign_state(model, optimizer, state):
    """Writes the step's state back into the variables (before a checkpoint, an
    evaluation or the end of the run)."""
    trainable, non_trainable, optimizer_values = state
    for variables, values in ((model.trainable_variables, trainable),
                              (model.non_trainable_variables, non_trainable),
                              (optimizer.variables, optimizer_values)):
        for variable, value in zip(variables, values):
            variable.assign(value)


class JaxSteps:
    """The JAX side of `tfbert.training.trainer.Trainer`: batches onto the devices, the
    compiled step, and the state kept as arrays between steps (`sync` writes it into the
    variables, `load` reads it from them)."""

    def __init__(self, model, loss, optimizer, accumulation_steps, distribution=None):
        refuse_loss_scaling(optimizer)   # before the run writes anything
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.accumulation_steps = accumulation_steps
        self.distribution = distribution
        self.state = None
        self._step = None
        # Where the optimizer's step count sits in its variables (for `learning_rate`).
        self._iterations = next(i for i, v in enumerate(optimizer.variables)
                                if v is optimizer.iterations)

    def load(self):
        # A copy on the variable's own devices and sharding (committed there, so the step
        # compiles once: an uncommitted first state would make the second step compile
        # again): the step donates its input buffers, and the variables keep theirs.
        self.state = jax.tree_util.tree_map(
            lambda a: jax.device_put(a, a.sharding, may_alias=False),
            state_of(self.model, self.optimizer))

    def sync(self):
        if self.state is not None:
            assign_state(self.model, self.optimizer, self.state)
            self.load()

    def _put(self, batch):
        """A global batch of NumPy arrays onto the devices: split by rows over the
        processes, each process's rows over its devices."""
        if self.distribution is None:
            return jax.tree_util.tree_map(jax.device_put, batch)
        # The processes whose devices the mesh spans (all of them, unless the strategy
        # keeps to this host's devices), and this one's place among them.
        processes = sorted({d.process_index for d in self.distribution.device_mesh.devices.flat})
        index = processes.index(jax.process_index())

        def put(array):
            rows = array.shape[0] // len(processes)
            layout = self.distribution.get_data_layout(array.shape).backend_layout
            return jax.make_array_from_process_local_data(
                layout, array[index * rows:(index + 1) * rows], array.shape)
        return jax.tree_util.tree_map(put, batch)

    def batches(self, dataset):
        for inputs, targets in dataset.as_numpy_iterator():
            yield self._put(inputs), self._put(targets)

    def step(self, inputs, targets) -> float:
        if self._step is None:
            trainable, non_trainable, _ = self.state
            unused = unreached(self.model, self.loss, trainable, non_trainable, inputs,
                               targets)
            self._step = make_train_step(self.model, self.loss, self.optimizer,
                                         self.accumulation_steps, unused)
        value, self.state = self._step(self.state, inputs, targets)
        return float(value)

    def learning_rate(self) -> float:
        """The rate the optimizer applies next, at its step count in the state."""
        value = self.state[2][self._iterations]
        with keras.StatelessScope(state_mapping=[(self.optimizer.iterations, value)]):
            return float(self.optimizer.learning_rate)
