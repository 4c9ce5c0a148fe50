"""A DCGAN on the bundled 8x8 digits: a Conv2DTranspose generator, a Conv2D discriminator,
and a `train_step` override with two optimizers. A callback writes a grid of generated
digits as a PNG after each epoch.

Run it with `python docs/examples/dcgan.py` (about 50 epochs; `--epochs N` for fewer). The
page docs/dcgan.md walks through the same code.
"""

import argparse
from pathlib import Path

import numpy as np

import kerasish as keras
from kerasish import layers, ops

LATENT_DIM = 32


def load_images():
    """The 1500 training digits as float32 images of shape (8, 8, 1), scaled to [-1, 1]."""
    (x_train, _), _ = keras.datasets.digits.load_data()
    return (x_train.astype("float32") / 8.0 - 1.0)[..., None]


def make_discriminator():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(1),  # a logit: above 0 for "generated", below for "real"
        ],
        name="discriminator",
    )


def make_generator(latent_dim=LATENT_DIM):
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(4 * 4 * 64, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(0.2),
            layers.Reshape((4, 4, 64)),
            layers.Conv2DTranspose(32, 4, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(0.2),
            layers.Conv2D(1, 3, padding="same", activation="tanh"),
        ],
        name="generator",
    )


class GAN(keras.Model):
    """Holds both networks; `fit(images)` trains them in turns, one step each per batch."""

    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def d_step(self, real_images):
        """One update of the discriminator on real images and as many fakes."""
        batch_size = ops.shape(real_images)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fakes = self.generator(z, training=True)
        images = ops.concatenate([fakes, real_images], axis=0)
        # Label fakes 1 and real images 0, with a little noise on the labels.
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels = labels + 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
        with keras.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(images, training=True))
        weights = self.discriminator.trainable_weights
        grads = tape.gradient(d_loss, weights)
        self.d_optimizer.apply_gradients(zip(grads, weights, strict=True))
        return d_loss

    def g_step(self, batch_size):
        """One update of the generator: fakes the discriminator should call real (0)."""
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with keras.GradientTape() as tape:
            predictions = self.discriminator(self.generator(z, training=True))
            g_loss = self.loss_fn(ops.zeros((batch_size, 1)), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=True))
        return g_loss

    def train_step(self, real_images):
        d_loss = self.d_step(real_images)
        g_loss = self.g_step(ops.shape(real_images)[0])
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def image_grid(images, columns=8, zoom=4):
    """(n, h, w, 1) images tiled into one grey image, `columns` wide with 1-pixel gaps, each
    pixel drawn as a `zoom` x `zoom` square (8x8 digits are tiny on screen)."""
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), images.min(), images.dtype)
    for i, image in enumerate(images[..., 0]):
        r, c = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = image
    return np.kron(grid, np.ones((zoom, zoom), grid.dtype))


def write_png(path, grid):
    """Writes a grey image: through matplotlib when it is installed, else kerasish's own
    PNG writer (zlib only)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.imsave(path, grid, cmap="gray")
    except ImportError:
        keras.utils.save_img(path, grid[..., None])


class GANMonitor(keras.callbacks.Callback):
    """After each epoch, writes `generated_<epoch>.png`: a grid of digits generated from the
    same latent points every time, so the files show the generator learning."""

    def __init__(self, directory=".", num_images=32, latent_dim=LATENT_DIM):
        super().__init__()
        self.directory = Path(directory)
        self.z = keras.random.normal((num_images, latent_dim), seed=42)

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generator.predict(self.z, verbose=0)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_png(self.directory / f"generated_{epoch + 1:03d}.png", image_grid(images))


def make_gan():
    gan = GAN(make_discriminator(), make_generator())
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def main(make_model=make_gan, epochs=50, directory="dcgan_images"):
    """Trains a model from `make_model` on all the digits, writing a grid each epoch."""
    keras.utils.set_random_seed(0)
    model = make_model()
    model.fit(load_images(), batch_size=32, epochs=epochs, callbacks=[GANMonitor(directory)])
    return model


def command_line(description, make_model, epochs, directory):
    """`main`, with `--epochs` and `--out` (the folder of the PNGs) read from the command
    line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--out", default=directory, help="where the PNGs go")
    args = parser.parse_args()
    return main(make_model, args.epochs, args.out)


if __name__ == "__main__":
    command_line(__doc__.splitlines()[0], make_gan, epochs=50, directory="dcgan_images")
