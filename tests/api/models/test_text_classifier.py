"""End to end: TextVectorization adapted on real English sentences feeds Embedding ->
Conv1D -> GlobalMaxPooling1D -> Dense, inside one model that takes strings, and learns a
labelling of the sentences with fit."""

import numpy as np

import kerasish as keras
from kerasish import layers

# Label 1: the sentence is about food and cooking; 0: about weather and travel.
FOOD = [
    "She baked fresh bread for the whole family.",
    "The soup needs more salt and a little pepper.",
    "We ate pasta with tomato sauce last night.",
    "Chop the onions before you fry them in butter.",
    "My grandmother makes the best apple pie.",
    "The chef grilled the fish with lemon and garlic.",
    "Add two eggs to the flour and stir gently.",
    "He ordered rice, beans and a spicy curry.",
    "The cheese melted over the warm potatoes.",
    "Breakfast was toast, honey and strong coffee.",
    "They roasted a chicken with carrots and herbs.",
    "This cake tastes of chocolate and vanilla.",
]
TRAVEL = [
    "It rained all day in the mountains.",
    "The train to the coast left at noon.",
    "A cold wind blew across the frozen lake.",
    "We flew to Lisbon and took a bus to the beach.",
    "Snow covered the road through the valley.",
    "The forecast says sunshine for the whole week.",
    "Our ferry crossed the harbour in a storm.",
    "Thunder woke us before the flight to Oslo.",
    "The hikers waited for the fog to lift.",
    "A warm breeze came off the sea at dusk.",
    "They drove north until the clouds cleared.",
    "The airport was closed because of the ice.",
]


def test_strings_to_embedding_conv_classifier():
    keras.utils.set_random_seed(7)
    texts = np.array(FOOD + TRAVEL)
    labels = np.array([1.0] * len(FOOD) + [0.0] * len(TRAVEL), np.float32)
    vectorize = layers.TextVectorization(max_tokens=200, output_sequence_length=12)
    vectorize.adapt(texts)
    vocabulary = vectorize.get_vocabulary()
    # By count: "the" 26, "and" 8, "a" 7, "to" 6, then 3 each for "with", "in", "for" and 2
    # for "whole", "we", "was": ties go to the token sorting highest. Keras 3.15 gives the
    # same 138 entries and the same sequences below for this corpus.
    assert vocabulary[:12] == ["", "[UNK]", "the", "and", "a", "to", "with", "in", "for",
                               "whole", "we", "was"]  # fmt: skip
    assert len(vocabulary) == 138
    sequences = vectorize(["The chef baked a cake.", "Rain and wind on the coast!"]).numpy()
    # Padded with 0 to 12; "rain" and "on" are unknown: 1.
    assert sequences.tolist() == [
        [2, 116, 131, 4, 120] + [0] * 7,
        [1, 3, 19, 1, 2, 109] + [0] * 6,
    ]
    assert [vocabulary[i] for i in (116, 131, 120, 19, 109)] == ["chef", "baked", "cake", "wind",
                                                                  "coast"]  # fmt: skip

    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorize(inputs)
    x = layers.Embedding(len(vocabulary), 16)(x)
    x = layers.Conv1D(16, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(texts, labels, epochs=20, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    loss, accuracy = model.evaluate(list(texts), labels, verbose=0)
    assert accuracy >= 0.95 and loss < history.history["loss"][0]
    predictions = model.predict(texts, verbose=0)
    np.testing.assert_allclose(model(texts).numpy(), predictions, rtol=1e-5, atol=1e-6)
    assert ((predictions[:, 0] > 0.5) == (labels > 0.5)).mean() >= 0.95
    # New sentences made of the corpus' words land on their side.
    unseen = ["Fresh bread with butter and honey.", "Snow and fog in the mountains.",
              "A storm closed the airport."]  # fmt: skip
    on_food_side = model.predict(unseen, verbose=0)[:, 0] > 0.5
    assert on_food_side.tolist() == [True, False, False]
