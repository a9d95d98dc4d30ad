"""Prompt templates against real tokenizers: the ``tokenizer`` template read off a chat template,
and the token-level agreement of training and serving that every template must keep.

Only SmolLM2's tokenizer is at hand offline; the other chat templates are Llama-2-chat's and
Mistral-7B-Instruct's verbatim, set on a copy of it that adds a BOS token as theirs do.
"""

from __future__ import annotations

from typing import Any

import pytest
from tokenizers.processors import TemplateProcessing

from assistant.dialogue import Exchange
from assistant.models import EMBEDDED_LLM, resolve_base_model
from assistant.routing.calls import Call, Calls
from assistant.routing.prompting import PromptTemplate, load_template, render_completion, render_prompt
from finetune.finetune import training_template

# meta-llama/Llama-2-7b-chat-hf: the system message goes inside the first [INST] between <<SYS>> markers
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
# mistralai/Mistral-7B-Instruct-v0.2: refuses a system message
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)


def smollm2(chat_template: str | None = None, adds_bos: bool = False) -> Any:
    """SmolLM2's tokenizer, fresh, optionally with another chat template and a BOS added to every text."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(EMBEDDED_LLM))
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if adds_bos:
        bos = (tokenizer.bos_token, tokenizer.bos_token_id)
        tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
            single=f"{bos[0]} $A", pair=f"{bos[0]} $A $B", special_tokens=[bos]
        )
    return tokenizer


TOKENIZERS = {
    "smollm2": lambda: smollm2(),
    "llama2-chat": lambda: smollm2(LLAMA2, adds_bos=True),
    "mistral-instruct": lambda: smollm2(MISTRAL, adds_bos=True),
}
CASES = [(name, "smollm2") for name in ("chatml", "mistral", "llama2", "plain")] + [
    ("tokenizer", tokenizer) for tokenizer in TOKENIZERS
]


@pytest.mark.parametrize("name, tokenizer_name", CASES)
def test_train_and_serve_see_the_same_tokens(name: str, tokenizer_name: str) -> None:
    """As trl masks it: the prompt's tokens are a prefix of prompt+completion's, and the first
    completion token is the start of the skill's name (a prompt ending in a space broke both)."""
    tokenizer = TOKENIZERS[tokenizer_name]()
    template = load_template(name, tokenizer)
    paris = Exchange("what's the weather in Paris", Calls([Call("weather", (("location", "Paris"),))]))
    asked = Exchange("set a timer for a while", Calls([Call("timer", (("duration", "a while"),))]), "For how long?")
    for user, call, context in [
        ("what's the weather in Paris", 'weather(location="Paris")', None),
        ("hello there", "other()", None),
        ("a timer for 5 minutes and the weather", 'timer(duration="5 minutes"); weather()', None),
        ("and tomorrow?", 'weather(location="Paris", day="tomorrow")', paris),
        ("twenty minutes", 'timer(duration="twenty minutes")', asked),
    ]:
        prompt = render_prompt(template, user, context=context)
        prompt_ids = tokenizer(prompt, add_special_tokens=True).input_ids
        full_ids = tokenizer(prompt + render_completion(template, call), add_special_tokens=True).input_ids
        assert full_ids[: len(prompt_ids)] == prompt_ids
        first = tokenizer.decode(full_ids[len(prompt_ids)]).strip()
        assert first and call.startswith(first), (name, tokenizer_name, first)


def test_smollm2s_own_template_is_chatml_token_for_token() -> None:
    """Why ``chatml`` can stay the default: for the bundled model it is the model's own template."""
    tokenizer = smollm2()
    own, chatml = load_template("tokenizer", tokenizer), load_template("chatml")
    assert own.text == chatml.text.rstrip("\n") and (own.lead, own.suffix) == (chatml.lead, chatml.suffix)

    def ids(template: PromptTemplate) -> tuple[list[int], list[int]]:
        prompt = render_prompt(template, "set a timer", ["other() not for you"])
        return tokenizer(prompt).input_ids, tokenizer(prompt + render_completion(template, Call("other"))).input_ids

    assert ids(own) == ids(chatml)


def test_llama2s_template_keeps_the_system_message_and_drops_the_bos_the_tokenizer_adds() -> None:
    template = load_template("tokenizer", smollm2(LLAMA2, adds_bos=True))
    assert template == PromptTemplate(
        "tokenizer", "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {call} <|im_end|>"
    )
    assert template.lead == " " and template.suffix == " <|im_end|>"  # as prompts/llama2.txt, with this EOS
    kept = load_template("tokenizer", smollm2(LLAMA2)).text  # a tokenizer that adds none keeps the template's
    assert kept.startswith("<|im_start|>[INST] ")


def test_a_template_that_refuses_a_system_message_gets_it_in_the_user_message() -> None:
    template = load_template("tokenizer", smollm2(MISTRAL, adds_bos=True))
    assert template.text == "[INST] {system}\n\n{user} [/INST]{call}<|im_end|>"
    assert render_prompt(template, "hi").startswith("[INST] Turn the speech into one skill call.")


def test_what_follows_the_assistants_end_of_turn_is_left_out() -> None:
    tokenizer = smollm2(
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{{ eos_token }}\n{% endfor %}{{ 'trailer' }}"
    )
    assert load_template("tokenizer", tokenizer).suffix == "<|im_end|>"


def test_a_model_without_a_chat_template_is_a_one_line_error_naming_it_and_the_file_templates() -> None:
    tokenizer = smollm2()
    tokenizer.chat_template = None
    with pytest.raises(ValueError) as error:
        load_template("tokenizer", tokenizer)
    message = str(error.value)
    assert "\n" not in message and tokenizer.name_or_path in message and "has no chat template" in message
    assert "chatml, llama2, mistral, plain" in message
    with pytest.raises(SystemExit, match=f"template: {tokenizer.name_or_path} has no chat template"):
        training_template("tokenizer", tokenizer)


def test_without_a_tokenizer_the_tokenizer_template_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="read from the model's tokenizer, and none is loaded here"):
        load_template("tokenizer")


def test_a_chat_template_that_loses_a_message_is_refused_naming_the_model() -> None:
    tokenizer = smollm2(
        "{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}{% endfor %}"
    )
    with pytest.raises(ValueError, match=f"the chat template of {tokenizer.name_or_path} does not keep"):
        load_template("tokenizer", tokenizer)
