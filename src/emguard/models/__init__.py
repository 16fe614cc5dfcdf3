"""Model loading (bundled GGUF, GGUF files, local folders, hub ids)."""

from .loader import (
    BUNDLED,
    ModelNotFound,
    load_model,
    load_tokenizer,
    model_fingerprint,
    model_folder,
    resolve_device,
    resolve_model,
    torch_dtype,
)

__all__ = [
    "BUNDLED",
    "ModelNotFound",
    "load_model",
    "load_tokenizer",
    "model_fingerprint",
    "model_folder",
    "resolve_device",
    "resolve_model",
    "torch_dtype",
]
