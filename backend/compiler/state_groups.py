"""Joining fused groups that update state: an optimizer's weight and slot updates, each a
fused group of its own after grouping, become one kernel when they read the same values
(see `merge`)."""

from __future__ import annotations

import math

from . import fusion


def merge(nodes: list, group_of: dict, absorbed: set, consumers: dict, assigned):
    """Joins fused groups that update state (each computes a value assigned to a Variable:
    an optimizer's weight and slots) into one kernel: a group whose value only such groups
    read (SGD with Nesterov momentum reads `lr * g` twice; Adadelta's step feeds its slot and
    the weight), and such groups reading the same full-size value (Lion's weight and
    momentum updates both read the gradient and the momentum). Every joined group's value is
    an output of the kernel, and a value read twice is computed once per element. Never when
    a node outside the joined groups reads from them before the kernel runs or feeds them
    from their own values."""
    order = {id(n): i for i, n in enumerate(nodes)}
    readers: dict = {}
    for node in nodes:
        for x in node.inputs:
            readers.setdefault(id(x), []).append(node)

    def updates(root_id) -> bool:
        return id(group_of[root_id][0][-1].outputs[0]) in assigned

    changed = True
    while changed:
        changed = False
        member_of = {id(m): root for root, (members, _) in group_of.items() for m in members}
        for root_id, (members, _) in list(group_of.items()):
            value = members[-1].outputs[0]
            users = readers.get(id(value), [])
            if len(users) < 2 or consumers.get(id(value), 0) != len(users) + (
                id(value) in assigned
            ):
                continue
            hosts = {member_of.get(id(u)) for u in users}
            if None in hosts or root_id in hosts or not all(updates(h) for h in hosts):
                continue
            joined = [root_id, *sorted(hosts, key=lambda h: order[h])]
            if _join(order, readers, group_of, absorbed, assigned, joined, True):
                changed = True
                break
        if changed:
            continue
        by_leaf: dict = {}
        for root_id, (members, _) in group_of.items():
            shape = tuple(members[-1].outputs[0].shape)
            if not updates(root_id) or math.prod(shape) <= 1:
                continue
            for m in members:
                for x in m.inputs:
                    inner = member_of.get(id(getattr(x, "_node", None))) == root_id
                    if not inner and tuple(x.shape) == shape:
                        by_leaf.setdefault((id(x), shape), set()).add(root_id)
        for roots in by_leaf.values():
            roots = sorted(roots, key=lambda h: order[h])
            if len(roots) > 1 and _join(order, readers, group_of, absorbed, assigned, roots):
                changed = True
                break


def _join(order, readers, group_of, absorbed, assigned, roots, consumed=False) -> bool:
    """Joins the groups `roots` (ids of their root nodes) into one, when valid. With
    `consumed`, the first group's value is read only by the others (it is no output unless
    a Variable takes it)."""
    first, joined_ids = roots[0], roots
    parts = [group_of[h] for h in joined_ids]
    shape = tuple(parts[0][0][-1].outputs[0].shape)
    if any(tuple(p[0][-1].outputs[0].shape) != shape for p in parts):
        return False
    joined = sorted((m for p in parts for m in p[0]), key=lambda n: order[id(n)])
    if len(joined) > fusion.MAX_GROUP_NODES or _feeds_itself(joined, readers):
        return False
    if _read_early(joined, readers, order):
        return False
    kept = []
    for (part_members, part_extra), h in zip(parts, joined_ids, strict=True):
        kept += part_extra
        root = part_members[-1]
        needed = not (consumed and h == first) or id(root.outputs[0]) in assigned
        if root is not joined[-1] and needed:
            kept.append(root)
    for h in joined_ids:
        del group_of[h]
    group_of[id(joined[-1])] = (joined, kept)
    absorbed.update(h for h in joined_ids if h != id(joined[-1]))
    return True


def _read_early(group: list, readers: dict, order: dict) -> bool:
    """Whether a node outside `group` reads one of its values before the group's last node
    (where its one kernel runs)."""
    inside = {id(n) for n in group}
    last = order[id(group[-1])]
    for node in group:
        for out in node.outputs:
            for reader in readers.get(id(out), []):
                if id(reader) not in inside and order[id(reader)] < last:
                    return True
    return False


def _feeds_itself(group: list, readers: dict) -> bool:
    """Whether a node outside `group` is both downstream of it and read by it (one kernel
    for the group would then need its own output before it runs)."""
    inside = {id(n) for n in group}
    reached, stack = set(), [n for n in group]
    while stack:
        node = stack.pop()
        for out in node.outputs:
            for reader in readers.get(id(out), []):
                if id(reader) not in inside and id(reader) not in reached:
                    reached.add(id(reader))
                    stack.append(reader)
    for node in group:
        for x in node.inputs:
            producer = getattr(x, "_node", None)
            if producer is not None and id(producer) in reached:
                return True
    return False
