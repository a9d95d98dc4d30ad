"""A cheaper step for trl's SFTTrainer on a CPU: no work the loss does not use.

A plain forward pass wastes most of a router's training step:

* every example starts with the same prompt head (the template and the system text, about two
  thirds of its tokens), computed once per example; ``completion_loss`` computes the batch's
  common prefix once and lets every row attend to it (its keys and values are shared, and their
  gradients add up, exactly as if each row had computed them);
* the loss covers the call's tokens only, yet every prompt position goes through the 49,152-word
  output layer; here only the labelled positions do;
* random batches mix short and long examples; length-grouped batches
  (``train_sampling_strategy="group_by_length"``, set in finetune.py) cut the padding.

The loss and its gradients equal the plain path's (a test compares them on a fixed batch). Under
several processes (``accelerate launch``) the model is wrapped in DDP, whose forward arms the
gradient all-reduce that completion_loss would bypass: the plain step runs there, and length
groups are sized by the global batch (a test trains the same adapter on two processes as on one).
"""

from __future__ import annotations

from typing import Any

from trl import SFTTrainer  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

IGNORE = -100


def completion_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any, Any]:
    """(mean next-token loss over labelled positions, their logits, their targets) for a causal LM.

    ``model`` may be a PEFT wrapper: its LoRA layers live inside the base model's modules, which
    are called here directly.
    """
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(causal_lm, causal_lm.base_model_prefix)
    hidden = shared_prefix_forward(backbone, inputs["input_ids"], inputs.get("attention_mask"))
    labels = inputs["labels"][:, 1:]
    mask = labels != IGNORE
    targets = labels[mask]
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][mask]).float()
    total = F.cross_entropy(logits, targets, reduction="sum")
    count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
    return total / count, logits, targets


def common_prefix_length(input_ids: Any, attention_mask: Any) -> int:
    """How many leading tokens every row shares, leaving each row at least one token of its own."""
    import torch

    same = (input_ids == input_ids[:1]).all(dim=0)
    if attention_mask is not None:
        same &= attention_mask.bool().all(dim=0)
    differs = torch.nonzero(~same)
    length = int(differs[0]) if differs.numel() else input_ids.shape[1]
    shortest = int(attention_mask.sum(dim=1).min()) if attention_mask is not None else input_ids.shape[1]
    return max(0, min(length, shortest - 1))


def shared_prefix_forward(backbone: Any, input_ids: Any, attention_mask: Any) -> Any:
    """The backbone's last hidden states, with the rows' common prefix computed once."""
    rows = input_ids.shape[0]
    shared = common_prefix_length(input_ids, attention_mask) if rows > 1 else 0
    if shared == 0:
        return backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    import torch

    head = backbone(input_ids=input_ids[:1, :shared], use_cache=True)
    cache = head.cache
    for layer in cache.layers:
        layer.keys, layer.values = layer.keys.expand(rows, -1, -1, -1), layer.values.expand(rows, -1, -1, -1)
    length = input_ids.shape[1]
    tail = backbone(
        input_ids=input_ids[:, shared:],
        attention_mask=attention_mask,
        cache=cache,
        position_ids=torch.arange(shared, length, device=input_ids.device).expand(rows, -1),
        use_cache=True,
    )
    return torch.cat([head.last_hidden_state.expand(rows, -1, -1), tail.last_hidden_state], dim=1)


class CompletionOnlySFTTrainer(SFTTrainer):
    """SFTTrainer whose loss projects only the labelled positions (see the module docstring)."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """transformers' length-grouped order, its groups sized by the global batch rather than one process's.

        Sized by one process's batch, the groups (and so each step's examples) would change with the number
        of processes: two processes with batch 2 would not train on the four examples one process with
        batch 4 takes. With one process the order is transformers' own.
        """
        from transformers.trainer_pt_utils import LengthGroupedSampler

        sampler = super()._get_train_sampler(train_dataset)
        if not isinstance(sampler, LengthGroupedSampler):
            return sampler
        return LengthGroupedSampler(
            sampler.batch_size * self.args.world_size, lengths=sampler.lengths, generator=sampler.generator
        )

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        import torch

        if self.accelerator.unwrap_model(model) is not model:
            # Wrapped for several processes (DDP under accelerate launch): the wrapper's forward arms the gradient
            # all-reduce, which completion_loss, calling the modules inside, would bypass; the plain step runs.
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        assert self.model is not None  # a trainer is built with its model
        mode = "train" if self.model.training else "eval"
        loss, logits, targets = completion_loss(model, inputs, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # as SFTTrainer: DDP averages the gradients
        with torch.no_grad():
            correct = self.accelerator.gather_for_metrics((logits.argmax(-1) == targets).sum()).sum()
            valid = self.accelerator.gather_for_metrics(torch.tensor(targets.numel(), device=logits.device)).sum()
        self._metrics[mode]["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += int(self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum())
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return (loss, None) if return_outputs else loss
