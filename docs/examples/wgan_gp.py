"""A Wasserstein GAN with gradient penalty (WGAN-GP) on the bundled 8x8 digits. The critic's
loss adds `gp_weight * (||d critic / d x|| - 1)^2` at points between real and generated
images: a gradient taken inside the tape of the critic's update, so the step differentiates
twice, compiled like any other step.

Run it with `python docs/examples/wgan_gp.py` (about 40 epochs; `--epochs N` for fewer).
The page docs/wgan_gp.md walks through the same code.
"""

# The data, the networks, the image callback and the training loop are the DCGAN example's:
# the discriminator (no BatchNormalization: the penalty is per image) serves as the critic,
# its Dense(1) a score.
from dcgan import LATENT_DIM, command_line, make_discriminator, make_generator

import kerasish as keras
from kerasish import ops


class WGAN(keras.Model):
    """`critic_steps` critic updates, then one generator update, per batch."""

    def __init__(self, critic, generator, latent_dim=LATENT_DIM, critic_steps=3, gp_weight=10.0):
        super().__init__()
        self.critic = critic
        self.generator = generator
        self.latent_dim = latent_dim
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight

    def compile(self, c_optimizer, g_optimizer):
        super().compile()
        self.c_optimizer = c_optimizer
        self.g_optimizer = g_optimizer

    def gradient_penalty(self, real_images, fake_images):
        """The mean over the batch of `(||d critic(x) / d x|| - 1)^2`, x drawn uniformly on
        the segments between real and fake images."""
        batch_size = ops.shape(real_images)[0]
        alpha = keras.random.uniform((batch_size, 1, 1, 1))
        mixed = real_images + alpha * (fake_images - real_images)
        with keras.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.critic(mixed, training=True)
        grads = tape.gradient(scores, mixed)
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2, 3)))
        return ops.mean(ops.square(norms - 1.0))

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        for _ in range(self.critic_steps):  # unrolled while tracing
            z = keras.random.normal((batch_size, self.latent_dim))
            with keras.GradientTape() as tape:
                fake_images = self.generator(z, training=True)
                fake_scores = self.critic(fake_images, training=True)
                real_scores = self.critic(real_images, training=True)
                c_loss = ops.mean(fake_scores) - ops.mean(real_scores)
                gp = self.gradient_penalty(real_images, fake_images)
                c_total = c_loss + self.gp_weight * gp
            grads = tape.gradient(c_total, self.critic.trainable_weights)
            self.c_optimizer.apply_gradients(zip(grads, self.critic.trainable_weights, strict=True))
        z = keras.random.normal((batch_size, self.latent_dim))
        with keras.GradientTape() as tape:
            g_loss = -ops.mean(self.critic(self.generator(z, training=True), training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=True))
        return {"c_loss": c_loss, "gp": gp, "g_loss": g_loss}


def make_wgan():
    wgan = WGAN(make_discriminator(), make_generator())
    wgan.compile(
        c_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9),
    )
    return wgan


if __name__ == "__main__":
    command_line(__doc__.splitlines()[0], make_wgan, epochs=40, directory="wgan_gp_images")
