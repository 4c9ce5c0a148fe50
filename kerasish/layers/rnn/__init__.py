"""Recurrent layers: `RNN` runs a cell over the time steps; the built-in cells
(`SimpleRNNCell`, `LSTMCell`, `GRUCell`) hold what differs; `SimpleRNN`, `LSTM` and `GRU`
are `RNN`s of one of them; `Bidirectional` and `TimeDistributed` wrap other layers."""

from .bidirectional import Bidirectional
from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .rnn import RNN
from .simple_rnn import SimpleRNN, SimpleRNNCell
from .stacked_rnn_cells import StackedRNNCells
from .time_distributed import TimeDistributed

__all__ = [
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "SimpleRNN", "SimpleRNNCell",
    "StackedRNNCells", "Bidirectional", "TimeDistributed",
]  # fmt: skip
