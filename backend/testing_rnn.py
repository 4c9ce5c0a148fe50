"""Plain-numpy references of the recurrent sequence ops, for tests: one step at a time,
written as Keras' cells and its backend `rnn` (the scanned path) write them.

`sequence_reference(cell, x_proj, recurrent_kernel, states, ...)` returns
`(outputs, *final_states)` with `outputs` in processing order; `cell` is `"lstm"`, `"gru"`
(with `reset_after` and `recurrent_bias`) or `"simple_rnn"`.
"""

from __future__ import annotations

import numpy as np


def _activation(name):
    return {
        "tanh": np.tanh,
        "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
        "relu": lambda a: np.maximum(a, 0.0),
        "linear": lambda a: a,
        None: lambda a: a,
        "hard_sigmoid": lambda a: np.clip(a + 3.0, 0.0, 6.0) / 6.0,
    }[name]


def _masked(h, rmask, k):
    return h if rmask is None else h * rmask[:, k]


def _lstm_step(x, w, states, rmask, act, ract):
    h, c = states
    u = w.shape[0]
    a = [
        x[:, k * u : (k + 1) * u] + _masked(h, rmask, k) @ w[:, k * u : (k + 1) * u]
        for k in range(4)
    ]
    i, f, o = ract(a[0]), ract(a[1]), ract(a[3])
    c = f * c + i * act(a[2])
    h = o * act(c)
    return h, [h, c]


def _gru_step(x, w, states, rmask, act, ract, reset_after, bias):
    (h,) = states
    u = w.shape[0]
    b = np.zeros(3 * u) if bias is None else bias
    rec = [_masked(h, rmask, k) @ w[:, k * u : (k + 1) * u] for k in range(2)]
    z = ract(x[:, :u] + rec[0] + b[:u])
    r = ract(x[:, u : 2 * u] + rec[1] + b[u : 2 * u])
    if reset_after:
        rec_h = _masked(h, rmask, 2) @ w[:, 2 * u :] + b[2 * u :]
        hh = act(x[:, 2 * u :] + r * rec_h)
    else:
        hh = act(x[:, 2 * u :] + (r * _masked(h, rmask, 2)) @ w[:, 2 * u :])
    h = z * h + (1 - z) * hh
    return h, [h]


def _simple_step(x, w, states, rmask, act):
    (h,) = states
    h = act(x + _masked(h, rmask, 0) @ w)
    return h, [h]


def sequence_reference(
    cell,
    x_proj,
    recurrent_kernel,
    states,
    mask=None,
    recurrent_mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
    recurrent_bias=None,
):
    """`(outputs, *final_states)` of a recurrent layer's loop over `x_proj` (B, T, G*U), in
    float64 numpy, step by step: a masked step keeps the states and outputs the previous
    state (the initial one at the first step), or zeros with `zero_output_for_mask`."""
    act, ract = _activation(activation), _activation(recurrent_activation)
    if cell == "lstm":

        def step(x, s):
            return _lstm_step(x, recurrent_kernel, s, recurrent_mask, act, ract)
    elif cell == "gru":

        def step(x, s):
            return _gru_step(
                x, recurrent_kernel, s, recurrent_mask, act, ract, reset_after, recurrent_bias
            )
    else:

        def step(x, s):
            return _simple_step(x, recurrent_kernel, s, recurrent_mask, act)

    steps = x_proj.shape[1]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    states = [np.asarray(s, np.float64) for s in states]
    outputs = []
    for t in order:
        out, new = step(np.asarray(x_proj[:, t], np.float64), states)
        if mask is not None:
            keep = mask[:, t][:, None]
            prev = np.zeros_like(out) if zero_output_for_mask else states[0]
            out = np.where(keep, out, prev)
            new = [np.where(keep, n, s) for n, s in zip(new, states, strict=True)]
        outputs.append(out)
        states = new
    return (np.stack(outputs, axis=1), *states)
