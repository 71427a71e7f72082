"""How task masks overlap, and how many parameters each task uses and shares.

Masks are `{param_name: bool tensor}` (True = kept). Parameter counts follow one definition
everywhere (results.json, the results table, prepare-masks.sh):

- a task USES a parameter element when the element belongs to the part of the network the task
  runs (shared layers, the BiLSTM or encoder layers up to the one it reads, its own head and CRF; not the
  other tasks' heads) and, if the parameter is masked, the task's mask keeps it;
- `total`: elements used by at least one task; `model`: every element of the network;
- `per_task`: elements each task uses (its kept prunable weights + every unmasked shared
  parameter + its own head/CRF);
- `private`, `shared_by_2`, `shared_by_3`: elements used by EXACTLY 1, 2 and 3 tasks, so that
  private + shared_by_2 + shared_by_3 (+ ...) = total; `shared_by` holds every count.
"""
from __future__ import annotations

import re
from itertools import combinations
from typing import Mapping, Sequence

import torch

from utils.sparsity.places import BLOCKS, KINDS, layer_of, place

Mask = Mapping[str, torch.Tensor]
_TASK_PART = re.compile(r"^(heads|crfs)\.(\d+)\.")


def task_uses(name: str, task_id: int, task_layers: Sequence[int] | None = None) -> bool:
    """Whether task `task_id` runs parameter `name` (its own head/CRF, the BiLSTM or encoder
    layers up to the one it reads)."""
    own = _TASK_PART.match(name)
    if own:
        return int(own.group(2)) == task_id
    layer = layer_of(name)
    if layer is not None and task_layers is not None:
        return layer < task_layers[task_id]
    return True


def _use_count(name: str, shape: torch.Size, task_ids: Sequence[int],
               masks: Mapping[int, Mask] | None, task_layers: Sequence[int] | None) -> torch.Tensor:
    """Per element of parameter `name`: how many of the tasks use it."""
    count = torch.zeros(shape, dtype=torch.int64)
    for task_id in task_ids:
        if not task_uses(name, task_id, task_layers):
            continue
        mask = (masks or {}).get(task_id)
        if mask is not None and name in mask:
            count += mask[name].to(torch.int64)
        else:
            count += 1
    return count


def parameter_counts(shapes: Mapping[str, torch.Size], task_ids: Sequence[int],
                     task_names: Mapping[int, str], masks: Mapping[int, Mask] | None = None,
                     task_layers: Sequence[int] | None = None) -> dict:
    """Counts as defined in the module docstring. `shapes`: {param_name: shape} of the model;
    `masks`: per task id (absent task or absent name = fully kept); `task_layers`: 1-based top
    BiLSTM or encoder layer each task reads (indexed by task id), None = all layers."""
    histogram = torch.zeros(len(task_ids) + 1, dtype=torch.int64)
    per_task = {task_names[t]: 0 for t in task_ids}
    model = 0
    for name, shape in shapes.items():
        count = _use_count(name, torch.Size(shape), task_ids, masks, task_layers)
        model += count.numel()
        histogram += torch.bincount(count.flatten(), minlength=len(task_ids) + 1)
        for task_id in task_ids:
            if task_uses(name, task_id, task_layers):
                mask = (masks or {}).get(task_id)
                kept = int(mask[name].sum()) if mask is not None and name in mask else count.numel()
                per_task[task_names[task_id]] += kept
    shared_by = {k: int(histogram[k]) for k in range(1, len(task_ids) + 1)}
    counts = {"model": model, "total": sum(shared_by.values()), "per_task": per_task,
              "private": shared_by.get(1, 0), "shared_by": shared_by}
    for k in range(2, len(task_ids) + 1):
        counts[f"shared_by_{k}"] = shared_by[k]
    return counts


def model_shapes(model: torch.nn.Module) -> dict[str, torch.Size]:
    """{param_name: shape} of a model, for `parameter_counts`."""
    return {name: param.shape for name, param in model.named_parameters()}


def n_kept(mask: Mask) -> int:
    """Weights the mask keeps."""
    return sum(int(kept.sum()) for kept in mask.values())


def n_total(mask: Mask) -> int:
    """Weights the mask covers (the prunable ones)."""
    return sum(kept.numel() for kept in mask.values())


def percent_kept(mask: Mask) -> float:
    """Percent of the masked (prunable) weights kept, not rounded (files and tables round it)."""
    return 100.0 * n_kept(mask) / max(n_total(mask), 1)


def _same_names(masks: Sequence[Mask]) -> list[str]:
    names = sorted(masks[0])
    for mask in masks[1:]:
        if sorted(mask) != names:
            raise ValueError("masks cover different parameters: "
                             f"{sorted(set(mask) ^ set(names))[:5]}")
        for name in names:
            if mask[name].shape != masks[0][name].shape:
                raise ValueError(f"masks disagree on the shape of {name!r}")
    return names


def pair_overlap(a: Mask, b: Mask) -> dict[str, float]:
    """Weights kept by both masks: as a percent of all masked weights, and as IoU
    (kept by both / kept by either), percent."""
    names = _same_names([a, b])
    both = sum(int((a[n] & b[n]).sum()) for n in names)
    either = sum(int((a[n] | b[n]).sum()) for n in names)
    total = n_total(a)
    return {"both_percent": 100.0 * both / max(total, 1),
            "iou_percent": 100.0 * both / either if either else 100.0}


def overlaps(masks: Mapping[str, Mask]) -> dict[str, dict[str, float]]:
    """`pair_overlap` for every pair of named masks, keyed "a-b"."""
    return {f"{a}-{b}": pair_overlap(masks[a], masks[b]) for a, b in combinations(masks, 2)}


def kept_by_histogram(masks: Sequence[Mask]) -> dict[int, float]:
    """Percent of masked weights kept by exactly k of the masks, for k = 0..len(masks)."""
    names = _same_names(list(masks))
    histogram = torch.zeros(len(masks) + 1, dtype=torch.int64)
    for name in names:
        count = sum(mask[name].to(torch.int64) for mask in masks)
        histogram += torch.bincount(count.flatten(), minlength=len(masks) + 1)
    total = max(int(histogram.sum()), 1)
    return {k: 100.0 * int(histogram[k]) / total for k in range(len(masks) + 1)}


def membership_histogram(masks: Sequence[Mask], name: str) -> torch.Tensor:
    """How many weights of tensor `name` each set of masks keeps exactly: entry c counts the
    weights kept by precisely the masks i whose bit (1 << i) is set in c (0 = kept by none)."""
    code = torch.zeros(masks[0][name].shape, dtype=torch.int64)
    for i, mask in enumerate(masks):
        code |= mask[name].to(torch.int64) << i
    return torch.bincount(code.flatten(), minlength=1 << len(masks))


def subset_ious(histogram: torch.Tensor, n_tasks: int) -> dict[int, float]:
    """{k: the mean overlap ratio (percent) of the subsets of k tasks}, k = 2..n_tasks, from a
    membership histogram: a subset's ratio is the weights kept by all of its tasks over those
    kept by any of them (100 when none is)."""
    counts = histogram.to(torch.float64)
    codes = torch.arange(1 << n_tasks)
    by_all = counts.clone()        # by_all[S]: kept by every task of S (sum over supersets)
    by_none_outside = counts.clone()   # [T]: kept by no task outside T (sum over subsets)
    for bit in range(n_tasks):
        low = codes[codes & (1 << bit) == 0]
        by_all[low] += by_all[low | (1 << bit)]
        by_none_outside[low | (1 << bit)] += by_none_outside[low]
    kept_by_any = counts.sum() - by_none_outside[codes ^ ((1 << n_tasks) - 1)]
    ratio = torch.where(kept_by_any > 0, 100.0 * by_all / kept_by_any.clamp(min=1), 100.0)
    sizes = torch.tensor([bin(c).count("1") for c in range(1 << n_tasks)])
    return {k: float(ratio[sizes == k].mean()) for k in range(2, n_tasks + 1)}


def overlap_row(histogram: torch.Tensor, tasks: Sequence[str]) -> dict[str, float]:
    """The overlap statistics of one membership histogram, in percent of its weights:
    `kept:T` (kept by task T), `both:A-B` (by A and B, whatever the others do), `iou:A-B`
    (both / either), `all` (by every task), `private:T` (by T alone), `pruned` (by none), and
    `subset_iou:k`, the mean overlap ratio of the subsets of k tasks (`subset_ious`)."""
    counts = histogram.tolist()
    total = max(sum(counts), 1)
    with_all = lambda bits: sum(n for c, n in enumerate(counts) if c & bits == bits)
    with_any = lambda bits: sum(n for c, n in enumerate(counts) if c & bits)
    row = {f"kept:{t}": 100.0 * with_all(1 << i) / total for i, t in enumerate(tasks)}
    for (i, a), (j, b) in combinations(enumerate(tasks), 2):
        both, either = with_all((1 << i) | (1 << j)), with_any((1 << i) | (1 << j))
        row[f"both:{a}-{b}"] = 100.0 * both / total
        row[f"iou:{a}-{b}"] = 100.0 * both / either if either else 100.0
    row["all"] = 100.0 * counts[(1 << len(tasks)) - 1] / total
    row.update({f"private:{t}": 100.0 * counts[1 << i] / total for i, t in enumerate(tasks)})
    row["pruned"] = 100.0 * counts[0] / total
    row.update({f"subset_iou:{k}": value for k, value in subset_ious(histogram, len(tasks)).items()})
    return row


def overlap_by_tensor(masks: Mapping[str, Mask]) -> list[dict]:
    """`overlap_row` of every masked tensor, then of all of them together ("overall"); each row
    also names its `tensor` and counts its `weights`. `masks`: {task name: mask}."""
    tasks, values = list(masks), list(masks.values())
    rows, overall = [], None
    for name in _same_names(values):
        histogram = membership_histogram(values, name)
        overall = histogram if overall is None else overall + histogram
        rows.append({"tensor": name, "weights": int(histogram.sum()), **overlap_row(histogram, tasks)})
    rows.append({"tensor": "overall", "weights": int(overall.sum()), **overlap_row(overall, tasks)})
    return rows


def overlap_by_place(masks: Mapping[str, Mask]) -> list[dict]:
    """`overlap_row` of the weights at each place of the network (utils.sparsity.places), each
    row naming its `layer` (as in the parameter names; None below the layers; "all" for every
    layer) and its `part` (a matrix kind, a block such as "attention" when a layer has several
    blocks and it several kinds, or "all"), and counting its `weights`. Per layer in order, then
    over all layers; the last row (layer "all", part "all") equals `overlap_by_tensor`'s overall.
    ValueError naming a parameter that cannot be placed."""
    tasks, values = list(masks), list(masks.values())
    groups: dict[tuple, dict[str, torch.Tensor]] = {}   # (layer, part) -> {tensor: histogram}
    for name in _same_names(values):
        where = place(name)
        histogram = membership_histogram(values, name)
        for layer in (where.layer, "all"):
            for part in (where.kind, where.block, "all"):
                groups.setdefault((layer, part), {})[name] = histogram
    layers = sorted({layer for layer, _ in groups if layer != "all"}, key=lambda k: -1 if k is None else k)
    rows = []
    for layer in layers + ["all"]:
        blocks = [b for b in BLOCKS if (layer, b) in groups]
        for part in [k for k in KINDS if (layer, k) in groups] + blocks + ["all"]:
            tensors = groups.get((layer, part))
            if part in blocks and (len(blocks) == 1 or _kinds_in(tensors) == 1):
                continue                # the same weights as the layer's "all" or one kind's row
            histogram = sum(tensors.values())
            rows.append({"layer": layer, "part": part, "weights": int(histogram.sum()),
                         **overlap_row(histogram, tasks)})
    return rows


def _kinds_in(tensors: Mapping[str, torch.Tensor]) -> int:
    return len({place(name).kind for name in tensors})
