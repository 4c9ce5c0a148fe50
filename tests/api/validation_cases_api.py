"""The bad-input cases of training and of the rest of the API (`validation_cases.py` runs
them): compile, fit, evaluate, predict, set_weights and the model-level calls; ops, losses,
metrics, initializers, the datasets and the data utilities."""

from __future__ import annotations

import numpy as np
from validation_cases import X, Y, arr, case, fresh, m

import kerasish as keras
from kerasish import layers, ops

# ---------------------------------------------------------------------------------------------
# compile, fit, evaluate, predict, set_weights and the model-level calls.
G = "training"

case(G, "compile(optimizer='adamw2')", lambda: fresh().compile("adamw2", "mse"), "adamw2")
case(G, "compile(optimizer=3)", lambda: fresh().compile(3, "mse"), "optimizer", "3")
case(G, "compile(loss='msq')", lambda: fresh().compile("sgd", "msq"), "msq")
case(G, "compile(loss=42)", lambda: fresh().compile("sgd", 42), "loss", "42")
case(G, "compile(metrics='accuracy')", lambda: fresh().compile("sgd", "mse", metrics="accuracy"),
     "metrics", "accuracy")  # fmt: skip
case(
    G,
    "compile(metrics=['acc_uracy'])",
    lambda: fresh().compile("sgd", "mse", metrics=["acc_uracy"]),
    "acc_uracy",
)
case(
    G,
    "compile(loss_weights=[1, 2])",
    lambda: fresh().compile("sgd", "mse", loss_weights=[1.0, 2.0]),
    "loss_weights",
    "2",
)
case(G, "compile(loss={'nope': 'mse'})", lambda: fresh().compile("sgd", {"nope": "mse"}), "nope")
case(G, "SGD(learning_rate=-1)", lambda: keras.optimizers.SGD(learning_rate=-1.0),
     "learning_rate", "-1")  # fmt: skip
case(G, "SGD(learning_rate='fast')", lambda: keras.optimizers.SGD(learning_rate="fast"),
     "learning_rate", "fast")  # fmt: skip
case(G, "SGD(momentum=-0.5)", lambda: keras.optimizers.SGD(momentum=-0.5), "momentum", "-0.5")
case(G, "Adam(beta_1=1.5)", lambda: keras.optimizers.Adam(beta_1=1.5), "beta_1", "1.5")
case(G, "Adam(epsilon=-1)", lambda: keras.optimizers.Adam(epsilon=-1.0), "epsilon", "-1")
case(G, "Adam(clipnorm=-1)", lambda: keras.optimizers.Adam(clipnorm=-1.0), "clipnorm", "-1")
case(G, "RMSprop(rho=2)", lambda: keras.optimizers.RMSprop(rho=2.0), "rho", "2")
case(G, "fit before compile", lambda: fresh().fit(X, Y, verbose=0), "fresh_model", "compile")
case(G, "evaluate before compile", lambda: fresh().evaluate(X, Y, verbose=0), "compile")
case(G, "fit(epochs=-1)", lambda: m().fit(X, Y, epochs=-1, verbose=0), "epochs", "-1")
case(G, "fit(epochs='3')", lambda: m().fit(X, Y, epochs="3", verbose=0), "epochs", "3")
case(G, "fit(batch_size=0)", lambda: m().fit(X, Y, batch_size=0, verbose=0), "batch_size", "0")
case(G, "fit(batch_size=-8)", lambda: m().fit(X, Y, batch_size=-8, verbose=0), "batch_size",
     "-8")  # fmt: skip
case(G, "fit(batch_size=2.5)", lambda: m().fit(X, Y, batch_size=2.5, verbose=0), "batch_size",
     "2.5")  # fmt: skip
case(G, "fit(validation_split=1.5)", lambda: m().fit(X, Y, validation_split=1.5, verbose=0),
     "validation_split", "1.5")  # fmt: skip
case(
    G,
    "fit(validation_split='0.2')",
    lambda: m().fit(X, Y, validation_split="0.2", verbose=0),
    "validation_split",
    "0.2",
)
case(G, "fit(validation_data=X)", lambda: m().fit(X, Y, validation_data=X, verbose=0),
     "validation_data", "ndarray")  # fmt: skip
case(G, "fit(validation_data=(X,))", lambda: m().fit(X, Y, validation_data=(X,), verbose=0),
     "validation_data", "1")  # fmt: skip
case(G, "fit(verbose='loud')", lambda: m().fit(X, Y, verbose="loud"), "verbose", "loud")
case(G, "fit(callbacks=print)", lambda: m().fit(X, Y, verbose=0, callbacks=print), "callbacks",
     "print")  # fmt: skip
case(G, "fit(callbacks=[3])", lambda: m().fit(X, Y, verbose=0, callbacks=[3]), "callback",
     "3")  # fmt: skip
case(G, "fit(initial_epoch=-1)", lambda: m().fit(X, Y, initial_epoch=-1, verbose=0),
     "initial_epoch", "-1")  # fmt: skip
case(G, "fit(steps_per_epoch=0)", lambda: m().fit(X, Y, steps_per_epoch=0, verbose=0),
     "steps_per_epoch", "0")  # fmt: skip
case(G, "fit(validation_freq=0)",
     lambda: m().fit(X, Y, validation_data=(X, Y), validation_freq=0, verbose=0),
     "validation_freq", "0")  # fmt: skip
case(G, "fit(class_weight=[1, 2])", lambda: m().fit(X, Y, class_weight=[1, 2], verbose=0),
     "class_weight", "[1, 2]")  # fmt: skip
case(G, "fit(class_weight={'a': 1})", lambda: m().fit(X, Y, class_weight={"a": 1.0}, verbose=0),
     "class_weight", "a")  # fmt: skip
case(G, "fit on mismatched sample counts", lambda: m().fit(X, Y[:10], verbose=0), "16", "10")
case(
    G,
    "fit on sample_weight of another length",
    lambda: m().fit(X, Y, sample_weight=np.ones(5), verbose=0),
    "sample_weight",
    "5",
)
case(G, "fit on sample_weight of rank 3",
     lambda: m().fit(X, Y, sample_weight=np.ones((16, 2, 2)), verbose=0), "sample_weight",
     "(16, 2, 2)")  # fmt: skip
case(G, "fit on x of the wrong width", lambda: m().fit(arr(16, 5), Y, verbose=0), "4", "5")
case(G, "fit on x of rank 1", lambda: m().fit(np.ones(16, "float32"), Y, verbose=0),
     ("(16,)", "rank"))  # fmt: skip
case(G, "fit on x of rank 3", lambda: m().fit(arr(16, 4, 1), Y, verbose=0), "(16, 4, 1)")
case(G, "fit on empty x", lambda: m().fit(arr(0, 4), Y[:0], verbose=0), ("empty", "0 samples"))
case(G, "fit on a scalar x", lambda: m().fit(np.float32(1.0), Y, verbose=0), "x", "number")
case(G, "fit on text x", lambda: m().fit(np.array([["a"] * 4] * 16), Y, verbose=0), "text")
case(G, "fit on x of objects", lambda: m().fit(np.array([[object()] * 4] * 16), Y, verbose=0),
     "x", "object")  # fmt: skip
case(G, "fit on x a set", lambda: m().fit({1, 2, 3}, Y, verbose=0), "x", "set")
case(G, "fit on x a string", lambda: m().fit("data.csv", Y, verbose=0), "data.csv")
case(G, "fit on x None", lambda: m().fit(None, Y, verbose=0), "x", "None")
case(G, "fit on ragged lists", lambda: m().fit([[1, 2, 3, 4], [1, 2]], Y[:2], verbose=0), "x",
     "different lengths", "np.asarray")  # fmt: skip
case(G, "fit on complex x", lambda: m().fit(arr(16, 4).astype(complex), Y, verbose=0), "x",
     "complex")  # fmt: skip
case(G, "fit labels out of range", lambda: m().fit(X, Y + 3, verbose=0), "labels", "[0, 3)")
case(G, "fit negative labels", lambda: m().fit(X, Y - 1, verbose=0), "-1", "3")
case(G, "fit labels of text", lambda: m().fit(X, np.array(["a"] * 16), verbose=0), "y",
     ("str", "<U1", "text"))  # fmt: skip
case(G, "fit one-hot y for sparse loss", lambda: m().fit(X, np.eye(3)[Y], verbose=0),
     ("(16, 3)", "(None, 3)", "shape"))  # fmt: skip
case(G, "fit with a dict x of a wrong name", lambda: m().fit({"nope": X}, Y, verbose=0), "nope")
case(G, "fit with two inputs for a one-input model", lambda: m().fit([X, X], Y, verbose=0),
     "2", ("1 input", "one input", "expects 1"))  # fmt: skip
case(G, "evaluate on mismatched samples", lambda: m().evaluate(X, Y[:3], verbose=0), "16", "3")
case(G, "evaluate(batch_size=0)", lambda: m().evaluate(X, Y, batch_size=0, verbose=0),
     "batch_size", "0")  # fmt: skip
case(G, "evaluate on a wrong width", lambda: m().evaluate(arr(16, 7), Y, verbose=0), "4", "7")
case(G, "predict(batch_size=-1)", lambda: m().predict(X, batch_size=-1, verbose=0),
     "batch_size", "-1")  # fmt: skip
case(G, "predict on a wrong width", lambda: m().predict(arr(3, 6), verbose=0), "4", "6")
case(G, "predict on empty x", lambda: m().predict(arr(0, 4), verbose=0), ("empty", "no data"))
case(G, "predict on a dict of objects", lambda: m().predict({"a": object()}, verbose=0), "x",
     "object")  # fmt: skip
case(G, "predict on text", lambda: m().predict(np.array([["a"] * 4]), verbose=0), "text")
case(G, "predict(steps=-1)", lambda: m().predict(X, steps=-1, verbose=0), "steps", "-1")
case(G, "model(x) on a wrong width", lambda: m()(arr(2, 9)), "4", "9")
case(G, "model(x) on text", lambda: m()(np.array([["a"] * 4])), "text")
case(G, "train_on_batch on mismatched samples", lambda: m().train_on_batch(X, Y[:4]), "16", "4")
case(G, "train_on_batch with NaN", lambda: m().train_on_batch(np.full((2, 4), np.nan), Y[:2]),
     "x", "NaN")  # fmt: skip
case(G, "set_weights with too few arrays", lambda: m().set_weights(m().get_weights()[:2]),
     "2", "4")  # fmt: skip
case(
    G,
    "set_weights with a wrong shape",
    lambda: m().set_weights([np.ones((5, 8))] + m().get_weights()[1:]),
    "(5, 8)",
    "(4, 8)",
)
case(G, "set_weights with text",
     lambda: m().set_weights([np.full((4, 8), "a")] + m().get_weights()[1:]),
     ("str", "<U1", "text"))  # fmt: skip
case(G, "set_weights with None", lambda: m().set_weights(None), "None")
case(
    G,
    "Layer.set_weights with a wrong shape",
    lambda: m().layers[0].set_weights([np.ones((4, 9)), np.ones(8)]),
    "(4, 9)",
    "(4, 8)",
)
case(
    G,
    "Layer.set_weights with NaN-free objects",
    lambda: m().layers[0].set_weights([object(), np.ones(8)]),
    "object",
)
case(
    G,
    "Variable.assign of a wrong shape",
    lambda: m().layers[0].kernel.assign(np.ones((3, 3))),
    "(3, 3)",
    "(4, 8)",
)
case(G, "get_layer of an unknown name", lambda: m().get_layer("nope"), "nope")
case(G, "get_layer(index=99)", lambda: m().get_layer(index=99), "99")
case(G, "Sequential of a non-layer", lambda: keras.Sequential([3]), "3", ("int", "layer"))
case(G, "Sequential.add(None)", lambda: keras.Sequential().add(None), "None")
case(G, "Model(inputs=X)", lambda: keras.Model(X, X), "inputs", ("ndarray", "array"))
case(
    G,
    "Model with an output not from the inputs",
    lambda: keras.Model(keras.Input((3,)), keras.Input((3,))),
    ("input", "connected"),
)
case(G, "Dense of 10^7 x 10^7 units",
     lambda: keras.Sequential([keras.Input((10**7,)), layers.Dense(10**7)]), "kernel",
     ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "Embedding of 10^12 rows",
     lambda: keras.Sequential([keras.Input((3,), dtype="int32"), layers.Embedding(10**12, 8)]),
     "embeddings", ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "Conv2D of 10^6 filters",
     lambda: keras.Sequential([keras.Input((8, 8, 10**6)), layers.Conv2D(10**6, 3)]),
     "kernel", ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "predict with a batch of 10^9 rows",
     lambda: m().predict(np.broadcast_to(np.ones(4, "float32"), (10**10, 4)), batch_size=10**10,
                         verbose=0), "batch_size", ("memory", "GB", "TB"),
     errors=(MemoryError, ValueError))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# ops, losses, metrics, initializers, the datasets and the data utilities.
G = "ops_and_data"
case(G, "ops.matmul of mismatched dims", lambda: ops.matmul(arr(2, 3), arr(4, 5)), "(2, 3)",
     "(4, 5)")  # fmt: skip
case(G, "ops.add of unbroadcastable shapes", lambda: ops.add(arr(2, 3), arr(4)), "(2, 3)",
     "(4,)")  # fmt: skip
case(G, "ops.reshape to a wrong size", lambda: ops.reshape(arr(2, 3), (4, 2)), "(4, 2)", "(2, 3)")
case(G, "ops.reshape with two -1", lambda: ops.reshape(arr(2, 3), (-1, -1)), "-1")
case(G, "ops.sum over a missing axis", lambda: ops.sum(arr(2, 3), axis=5), "axis", "5")
case(G, "ops.mean over axis text", lambda: ops.mean(arr(2, 3), axis="rows"), "axis", "rows")
case(G, "ops.transpose with a bad permutation", lambda: ops.transpose(arr(2, 3), (0, 0)),
     "(0, 0)")  # fmt: skip
case(
    G,
    "ops.concatenate of mismatched shapes",
    lambda: ops.concatenate([arr(2, 3), arr(2, 4)], axis=0),
    "(2, 3)",
    "(2, 4)",
)
case(G, "ops.concatenate of nothing", lambda: ops.concatenate([]), ("empty", "no tensors", "[]"))
case(G, "ops.stack of different shapes", lambda: ops.stack([arr(2), arr(3)]), "(2,)", "(3,)")
case(G, "ops.softmax over a missing axis", lambda: ops.softmax(arr(2, 3), axis=4), "axis", "4")
case(G, "ops.one_hot with num_classes=0", lambda: ops.one_hot(np.array([1]), 0),
     "num_classes", "0")  # fmt: skip
case(G, "ops.take out of range", lambda: ops.take(arr(3, 2), np.array([5]), axis=0), "5", "3",
     errors=(ValueError, IndexError))  # fmt: skip
case(
    G,
    "ops.conv with a channel mismatch",
    lambda: ops.conv(arr(1, 5, 5, 3), arr(3, 3, 4, 2)),
    "3",
    "4",
)
case(G, "ops.conv of rank 2", lambda: ops.conv(arr(5, 5), arr(3, 3)), "(5, 5)")
case(
    G,
    "ops.conv(padding='full')",
    lambda: ops.conv(arr(1, 5, 5, 1), arr(3, 3, 1, 1), padding="full"),
    "padding",
    "full",
)
case(
    G,
    "ops.conv(strides=0)",
    lambda: ops.conv(arr(1, 5, 5, 1), arr(3, 3, 1, 1), strides=0),
    "strides",
    "0",
)
case(G, "ops.max_pool(pool_size=0)", lambda: ops.max_pool(arr(1, 4, 4, 1), 0), "pool_size", "0")
case(G, "ops.cast to a bad dtype", lambda: ops.cast(arr(2), "float17"), "float17")
case(G, "ops.convert_to_tensor of an object", lambda: ops.convert_to_tensor(object()),
     "object")  # fmt: skip
case(G, "ops.convert_to_tensor of text", lambda: ops.convert_to_tensor(["a", "b"]),
     ("str", "<U1", "text", "string"))  # fmt: skip
case(G, "ops.zeros with a negative dim", lambda: ops.zeros((2, -3)), "-3")
case(G, "ops.zeros of 10^15 elements", lambda: ops.zeros((10**5, 10**5, 10**5)), "zeros",
     ("memory", "GB", "TB"), errors=(MemoryError, ValueError))  # fmt: skip
case(G, "ops.ones of a text shape", lambda: ops.ones("big"), "big")
case(G, "ops.arange with step 0", lambda: ops.arange(0, 5, 0), "step", "0")
case(G, "ops.split into uneven parts", lambda: ops.split(arr(5), 2), "5", "2")
case(G, "ops.tile with negative reps", lambda: ops.tile(arr(2), (-1,)), "-1")
case(G, "ops.squeeze of a non-1 axis", lambda: ops.squeeze(arr(2, 3), axis=0), "axis", "2")
case(G, "ops.expand_dims at axis 9", lambda: ops.expand_dims(arr(2), 9), "axis", "9")
case(G, "ops.einsum with a bad subscript", lambda: ops.einsum("ij,jk->ik", arr(2, 3), arr(4, 5)),
     "ij,jk->ik")  # fmt: skip
case(G, "ops.getitem out of range", lambda: ops.convert_to_tensor(arr(3))[5], "5", "3",
     errors=(ValueError, IndexError))  # fmt: skip
case(G, "ops.where of mismatched shapes", lambda: ops.where(arr(2, 3) > 0, arr(4), arr(2, 3)),
     "(4,)")  # fmt: skip
case(
    G,
    "ops.sparse_categorical_crossentropy out of range",
    lambda: ops.sparse_categorical_crossentropy(np.array([4]), arr(1, 3)),
    "4",
    "3",
)
case(G, "losses.get('msq')", lambda: keras.losses.get("msq"), "msq")
case(G, "metrics.get('acc_uracy')", lambda: keras.metrics.get("acc_uracy"), "acc_uracy")
case(G, "activations.get('reluu')", lambda: keras.activations.get("reluu"), "reluu")
case(G, "initializers.get(3.5)", lambda: keras.initializers.get(3.5), "3.5")
case(G, "optimizers.get('adamm')", lambda: keras.optimizers.get("adamm"), "adamm")
case(G, "regularizers.L2(-1)", lambda: keras.regularizers.L2(-1.0), "l2", "-1")
case(
    G,
    "MeanSquaredError()(mismatched)",
    lambda: keras.losses.MeanSquaredError()(arr(4, 3), arr(4, 2)),
    "(4, 3)",
    "(4, 2)",
)
case(G, "SparseCategoricalCrossentropy label out of range",
     lambda: keras.losses.SparseCategoricalCrossentropy()(np.array([7]), arr(1, 3) / 3), "7",
     "3")  # fmt: skip
case(
    G,
    "Accuracy on mismatched counts",
    lambda: keras.metrics.Accuracy().update_state(arr(4), arr(3)),
    "(4,)",
    "(3,)",
)
case(G, "to_categorical(num_classes=0)", lambda: keras.utils.to_categorical([1, 2], 0),
     "num_classes", "0")  # fmt: skip
case(G, "to_categorical label >= num_classes", lambda: keras.utils.to_categorical([1, 5], 3),
     "5", "3")  # fmt: skip
case(G, "to_categorical negative label", lambda: keras.utils.to_categorical([-1, 0], 3), "-1")
case(G, "to_categorical of floats", lambda: keras.utils.to_categorical([0.5, 1.5], 3), "0.5")
case(G, "to_categorical of text", lambda: keras.utils.to_categorical(["a"], 3), ("str", "a"))
case(G, "normalize(order=0)", lambda: keras.utils.normalize(arr(2, 3), order=0), "order", "0")
case(G, "normalize(axis=5)", lambda: keras.utils.normalize(arr(2, 3), axis=5), "axis", "5")
case(G, "pad_sequences(maxlen=-1)", lambda: keras.utils.pad_sequences([[1, 2]], maxlen=-1),
     "maxlen", "-1")  # fmt: skip
case(
    G,
    "pad_sequences(padding='middle')",
    lambda: keras.utils.pad_sequences([[1, 2]], padding="middle"),
    "padding",
    "middle",
)
case(
    G,
    "pad_sequences(truncating='middle')",
    lambda: keras.utils.pad_sequences([[1, 2]], truncating="middle"),
    "truncating",
    "middle",
)
case(G, "pad_sequences of a non-sequence", lambda: keras.utils.pad_sequences(5), "5")
case(G, "pad_sequences of text into ints", lambda: keras.utils.pad_sequences([["a", "b"]]),
     ("str", "'a'", "text"))  # fmt: skip
case(
    G,
    "pad_sequences(dtype='int17')",
    lambda: keras.utils.pad_sequences([[1, 2]], dtype="int17"),
    "dtype",
    "int17",
)
case(G, "timeseries(sequence_length=0)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 0), "sequence_length",
     "0")  # fmt: skip
case(G, "timeseries(sequence_stride=0)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, sequence_stride=0),
     "sequence_stride", "0")  # fmt: skip
case(G, "timeseries(batch_size=-1)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, batch_size=-1),
     "batch_size", "-1")  # fmt: skip
case(
    G,
    "timeseries targets a scalar",
    lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), 5.0, 3),
    "targets",
    "5.0",
)
case(G, "timeseries(start_index=20)",
     lambda: keras.utils.timeseries_dataset_from_array(arr(10, 2), None, 3, start_index=20),
     "start_index", "20")  # fmt: skip
case(
    G,
    "split_dataset(left_size=2.0)",
    lambda: keras.utils.split_dataset(arr(10, 2), left_size=2.0),
    "left_size",
    "2.0",
)
case(
    G,
    "split_dataset(left_size=-3)",
    lambda: keras.utils.split_dataset(arr(10, 2), left_size=-3),
    "left_size",
    "-3",
)
case(G, "split_dataset of an int", lambda: keras.utils.split_dataset(5, left_size=0.5),
     "dataset", "int")  # fmt: skip
case(
    G,
    "imdb.load_data(num_words=-1)",
    lambda: keras.datasets.imdb.load_data(num_words=-1),
    "num_words",
    "-1",
)
case(G, "imdb.load_data(maxlen=0)", lambda: keras.datasets.imdb.load_data(maxlen=0), "maxlen",
     "0")  # fmt: skip
case(G, "imdb.load_data(skip_top=-2)", lambda: keras.datasets.imdb.load_data(skip_top=-2),
     "skip_top", "-2")  # fmt: skip
case(G, "imdb.load_data(path=3)", lambda: keras.datasets.imdb.load_data(path=3), "path", "3")
case(G, "mnist.load_data(path=None)", lambda: keras.datasets.mnist.load_data(path=None),
     "path", "None")  # fmt: skip
case(G, "digits.load_data(extra)", lambda: keras.datasets.digits.load_data("x"), "load_data",
     "1 was given")  # fmt: skip
case(G, "Progbar(target=-1)", lambda: keras.utils.Progbar(-1), "target", "-1")
case(G, "PyDataset(workers=0)", lambda: keras.utils.PyDataset(workers=0), "workers", "0")
case(G, "set_random_seed('seven')", lambda: keras.utils.set_random_seed("seven"), "seed",
     "seven")  # fmt: skip
case(G, "set_random_seed(-1)", lambda: keras.utils.set_random_seed(-1), "seed", "-1")
case(G, "config.set_floatx('float8')", lambda: keras.config.set_floatx("float8"), "float8")
case(G, "config.set_epsilon(-1)", lambda: keras.config.set_epsilon(-1.0), "-1")
case(
    G,
    "initializers.RandomNormal(stddev=-1)",
    lambda: keras.initializers.RandomNormal(stddev=-1.0),
    "stddev",
    "-1",
)
case(
    G,
    "initializers.Constant('a') on a weight",
    lambda: keras.initializers.Constant("a")((2, 2)),
    "a",
)
