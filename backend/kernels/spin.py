"""The native side of `backend.spinners`: a loop that keeps one CPU busy at idle priority
while the engine works, and sleeps on a futex when it stops (Linux only).

Everything here runs without the GIL and never returns to Python while the thread is at idle
priority: an unprivileged thread cannot go back from SCHED_IDLE to an ordinary policy, and a
thread at idle priority holding the GIL could keep the main thread waiting for as long as
other programs keep its CPU busy. So `spin_forever` switches its own thread to SCHED_IDLE
first and then loops for the life of the process.

libc is called through LLVM declarations (`clock_gettime`, `sched_yield`,
`sched_setscheduler`, `syscall`), resolved by name when the kernel is loaded, so the
compiled kernel can be cached like the others (a ctypes function pointer would be an address
baked into the code). The state the main thread writes is read with atomic loads, which LLVM
may not hoist out of the loop.

The int64 `state` array is laid out by `backend.spinners` (`STATE_*`); the main thread wakes
the spinners when `state[STATE_SLEEPING]` is not 0. The int32 `gate` is the futex word: the
main thread bumps it before a wake, and a spinner sleeps only while it holds the value it
read, so a wake between its read and its sleep is not lost.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..spinners import STATE_LAST, STATE_SIZE, STATE_SLEEPING, STATE_SPIN_NS  # noqa: F401
from . import kernel

SCHED_IDLE = 5
CLOCK_MONOTONIC = 1
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
FUTEX_SYSCALL = {"x86_64": 202, "aarch64": 98}  # SYS_futex by machine

_I32, _I64 = ir.IntType(32), ir.IntType(64)


def _libc(builder, name, ret, args, var_arg=False):
    fnty = ir.FunctionType(ret, args, var_arg=var_arg)
    return cgutils.get_or_insert_function(builder.module, fnty, name)


def _element_pointer(context, builder, arrty, arr, index):
    array = context.make_array(arrty)(context, builder, arr)
    return builder.gep(array.data, [index])


@intrinsic
def _now_ns(typingctx):
    """CLOCK_MONOTONIC in nanoseconds (Python's `time.monotonic_ns()`)."""

    def codegen(context, builder, signature, args):
        spec = cgutils.alloca_once(builder, ir.ArrayType(_I64, 2))
        fn = _libc(builder, "clock_gettime", _I32, [_I32, spec.type])
        builder.call(fn, [_I32(CLOCK_MONOTONIC), spec])
        seconds = builder.load(builder.gep(spec, [_I32(0), _I32(0)]))
        nanoseconds = builder.load(builder.gep(spec, [_I32(0), _I32(1)]))
        return builder.add(builder.mul(seconds, _I64(1_000_000_000)), nanoseconds)

    return types.int64(), codegen


@intrinsic
def _yield_cpu(typingctx):
    """sched_yield(): returns at once when nothing else wants this CPU."""

    def codegen(context, builder, signature, args):
        builder.call(_libc(builder, "sched_yield", _I32, []), [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def _become_idle(typingctx):
    """sched_setscheduler(0, SCHED_IDLE, {0}) for the calling thread; 0 on success."""

    def codegen(context, builder, signature, args):
        param = cgutils.alloca_once_value(builder, _I32(0))
        fn = _libc(builder, "sched_setscheduler", _I32, [_I32, _I32, param.type])
        return builder.call(fn, [_I32(0), _I32(SCHED_IDLE), param])

    return types.int32(), codegen


@intrinsic
def _load(typingctx, arr, index):
    """arr[index] read with an atomic (monotonic) load: read again on every call."""

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        value = builder.load_atomic(ptr, "monotonic", arr.dtype.bitwidth // 8)
        return value

    return arr.dtype(arr, index), codegen


@intrinsic
def _add(typingctx, arr, index, value):
    """arr[index] += value, atomically."""

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        delta = context.cast(builder, args[2], signature.args[2], signature.args[0].dtype)
        builder.atomic_rmw("add", ptr, delta, "seq_cst")
        return context.get_dummy_value()

    return types.none(arr, index, value), codegen


@intrinsic
def _futex(typingctx, gate, number, operation, value):
    """syscall(number, &gate[0], operation, value, NULL): a futex wait or wake."""

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], _I64(0))
        fn = _libc(builder, "syscall", _I64, [_I64], var_arg=True)
        number, operation, value = (
            context.cast(builder, arg, ty, types.int64)
            for arg, ty in zip(args[1:], signature.args[1:], strict=True)
        )
        call_args = [number, builder.ptrtoint(ptr, _I64), operation, value, _I64(0)]
        return builder.call(fn, call_args)

    return types.int64(gate, number, operation, value), codegen


@kernel
def _active(state):
    return _now_ns() - _load(state, STATE_LAST) < _load(state, STATE_SPIN_NS)


@kernel
def spin_forever(state, gate, futex_number):
    """Turns this thread to SCHED_IDLE, then forever: spins (yielding the CPU to anything
    that wants it) while the engine was active within `state[STATE_SPIN_NS]`, else sleeps on
    the gate until `wake`. Returns -1 at once, still at its old priority, when the switch to
    SCHED_IDLE is refused."""
    if _become_idle() != 0:
        return -1
    while True:
        while _active(state):
            _yield_cpu()
        seen = _load(gate, 0)
        _add(state, STATE_SLEEPING, 1)
        if not _active(state):  # activity since the loop ended: spin again instead
            _futex(gate, futex_number, FUTEX_WAIT_PRIVATE, seen)
        _add(state, STATE_SLEEPING, -1)


@kernel
def wake(gate, futex_number):
    """Bumps the gate and wakes every spinner sleeping on it."""
    _add(gate, 0, 1)
    _futex(gate, futex_number, FUTEX_WAKE_PRIVATE, 0x7FFFFFFF)


@kernel
def now_ns():
    """CLOCK_MONOTONIC in nanoseconds, as the spinners read it (for tests)."""
    return _now_ns()
