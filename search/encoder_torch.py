"""The sentence-transformers (torch) encoder, and the offline ONNX export of the same model."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from search.encoder import MAX_SEQ_LENGTH, ModelInfo

log = logging.getLogger(__name__)


class TorchEncoder:
    backend = "torch-fp32"

    def __init__(self, model: ModelInfo, max_tokens: int = MAX_SEQ_LENGTH):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        # use_safetensors: transformers must never fall back to unpickling pytorch_model.bin
        self.model = SentenceTransformer(str(model.path), device="cpu", model_kwargs={"use_safetensors": True})
        self.model.max_seq_length = max_tokens
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getter())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


def export_onnx(model: ModelInfo, fp32_path: Path, int8_path: Path) -> None:
    """Export transformer + mean pooling + L2 normalisation to ONNX, then quantise to int8.

    Written to temporary names and renamed, so a killed export never leaves a half file.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    wrapped = Pooled(AutoModel.from_pretrained(str(model.path), use_safetensors=True)).eval()
    dummy = torch.ones((2, 16), dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "token_type_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
    tmp32, tmp8 = fp32_path.with_suffix(".tmp"), int8_path.with_suffix(".tmp")
    with torch.no_grad():
        torch.onnx.export(wrapped, (dummy, dummy, torch.zeros_like(dummy)), str(tmp32),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    quantize_dynamic(str(tmp32), str(tmp8), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(tmp32, fp32_path)
    os.replace(tmp8, int8_path)
    log.info("exported ONNX encoders to %s and %s", fp32_path, int8_path)
