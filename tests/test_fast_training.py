"""finetune/shared_prefix.py: the shared-prefix, labelled-positions-only loss equals the plain loss, gradients too."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.shared_prefix import common_prefix_length, completion_loss

pytestmark = pytest.mark.slow


def fixed_batch(tokenizer) -> dict:
    """Two prompt-completion rows, right-padded, labels -100 on the prompt and the padding."""
    import torch

    head = "<|im_start|>system\nTurn the speech into one skill call.<|im_end|>\n<|im_start|>user\n"
    rows = [
        (f"{head}what's the weather in Oslo<|im_end|>\n<|im_start|>assistant\n", 'weather(location="Oslo")<|im_end|>'),
        (f"{head}timer<|im_end|>\n<|im_start|>assistant\n", 'timer(duration="five minutes")<|im_end|>'),
        (f"{head}what's the weather in Rome<|im_end|>\n<|im_start|>assistant\n", "other()<|im_end|>"),
    ]
    ids, labels = [], []
    for prompt, completion in rows:
        p, c = tokenizer(prompt).input_ids, tokenizer(completion).input_ids
        ids.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([row + [pad] * (width - len(row)) for row in ids]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids]),
        "labels": torch.tensor([row + [-100] * (width - len(row)) for row in labels]),
    }


def test_completion_loss_equals_the_plain_loss_and_gradients(tiny_llama: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_llama),
        LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False),
    )
    batch = fixed_batch(tokenizer)
    assert common_prefix_length(batch["input_ids"], batch["attention_mask"]) >= 15  # the shared head is computed once

    plain = model(**batch).loss  # transformers' own causal-LM loss over every labelled position
    plain.backward()

    def grad(p: torch.nn.Parameter) -> torch.Tensor:
        assert p.grad is not None  # backward() gave every trainable parameter one
        return p.grad

    plain_grads = {name: grad(p).clone() for name, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    fast, logits, targets = completion_loss(model, batch)
    fast.backward()

    assert logits.shape[0] == targets.numel() == int((batch["labels"][:, 1:] != -100).sum())
    assert torch.allclose(fast, plain, atol=1e-6)
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(grad(p), plain_grads[name], atol=1e-6, rtol=1e-4), name
