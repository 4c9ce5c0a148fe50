"""End to end: the keras.io "Simple MNIST convnet" learns the bundled digits through `fit`.

The architecture is the keras.io example's (Conv2D 32 -> MaxPool -> Conv2D 64 -> MaxPool ->
Flatten -> Dropout 0.5 -> Dense 10 softmax, Adam); the 8x8 digits are upsampled to 24x24 by an
`UpSampling2D` inside the model so the two 3x3 valid conv + 2x2 pool blocks have room
(24 -> 22 -> 11 -> 9 -> 4). Train and test splits are pooled and shuffled once with a fixed
permutation before `validation_split` (which takes the tail, and the bundled test split is the
dataset's tail: its writers differ from the train split's).
"""

import numpy as np

import kerasish as keras


def _data():
    (x, y), (x_test, y_test) = keras.datasets.digits.load_data()
    x = np.concatenate([x, x_test])
    y = np.concatenate([y, y_test])
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order].astype("float32") / 16.0)[..., None]  # (n, 8, 8, 1), pixels 0..16 -> 0..1
    return x, y[order]


def _convnet():
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.UpSampling2D(3),  # 24x24x1
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def test_keras_io_convnet_reaches_97_percent_validation_accuracy():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _convnet()
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=64, epochs=10, validation_split=0.1, verbose=0)
    val_accuracy = history.history["val_accuracy"]
    assert max(val_accuracy) >= 0.97, val_accuracy
    assert history.history["loss"][-1] < history.history["loss"][0]
