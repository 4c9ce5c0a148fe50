"""A variational autoencoder on the bundled 8x8 digits: a `Sampling` layer that draws the
latent code and adds the KL divergence with `add_loss`, and a `train_step` override that
tracks the reconstruction and KL terms.

Run it with `python docs/examples/vae.py` (30 epochs; `--epochs N` for fewer). The
page docs/vae.md walks through the same code.
"""

import argparse

import kerasish as keras
from kerasish import layers, ops

LATENT_DIM = 8


def load_images():
    """The 1500 training digits as binary float32 images of shape (8, 8, 1): a pixel is 1
    where its ink (0..16) is at least 8. With binary pixels the crossentropy of a perfect
    reconstruction is 0, so the loss shows how much of each digit the code carries."""
    (x_train, _), _ = keras.datasets.digits.load_data()
    return (x_train >= 8).astype("float32")[..., None]


class Sampling(layers.Layer):
    """Draws `z = z_mean + exp(z_log_var / 2) * epsilon` and adds the KL divergence of
    N(z_mean, exp(z_log_var)) from N(0, 1), averaged over the batch, to the model's losses."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        kl = -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        self.add_loss(ops.mean(ops.sum(kl, axis=1)))
        batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
        epsilon = keras.random.normal((batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def make_encoder(latent_dim=LATENT_DIM):
    images = keras.Input((8, 8, 1))
    x = layers.Flatten()(images)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(images, [z_mean, z_log_var, z], name="encoder")


def make_decoder(latent_dim=LATENT_DIM):
    z = keras.Input((latent_dim,))
    x = layers.Dense(64, activation="relu")(z)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="sigmoid")(x)
    return keras.Model(z, layers.Reshape((8, 8, 1))(x), name="decoder")


def reconstruction_loss(images, reconstructions):
    """Binary crossentropy summed over each image's pixels, averaged over the batch."""
    per_pixel = keras.losses.binary_crossentropy(images, reconstructions)  # (batch, 8, 8)
    return ops.mean(ops.sum(per_pixel, axis=(1, 2)))


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, images, training=None):
        _, _, z = self.encoder(images, training=training)
        return self.decoder(z, training=training)

    def train_step(self, images):
        with keras.GradientTape() as tape:
            reconstructions = self(images, training=True)
            rec_loss = reconstruction_loss(images, reconstructions)
            kl_loss = ops.sum(self.losses)  # what Sampling added in this call
            total_loss = rec_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(rec_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def make_vae():
    vae = VAE(make_encoder(), make_decoder())
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))
    return vae


def main(epochs=30):
    keras.utils.set_random_seed(0)
    vae = make_vae()
    vae.fit(load_images(), batch_size=32, epochs=epochs)
    return vae


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    main(parser.parse_args().epochs)
