"""Data: the chat format, its validation, loaders, tokenization and the built-in registry."""

from .chat import DataError, Example, chat, read_chat_jsonl, read_jsonl_any, validate_record, write_chat_jsonl
from .load import load_examples
from .registry import DatasetInfo, build_dataset, get_dataset_info, list_datasets, register_dataset
from .tokenize import DEFAULT_SYSTEM_PROMPT, IGNORE, Tokenized, tokenize_example, tokenize_examples

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "IGNORE",
    "DataError",
    "DatasetInfo",
    "Example",
    "Tokenized",
    "build_dataset",
    "chat",
    "get_dataset_info",
    "list_datasets",
    "load_examples",
    "read_chat_jsonl",
    "read_jsonl_any",
    "register_dataset",
    "tokenize_example",
    "tokenize_examples",
    "validate_record",
    "write_chat_jsonl",
]
