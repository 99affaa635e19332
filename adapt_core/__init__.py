"""AdaPT Studio's library: adapt small language models to text-classification tasks.

The public API, re-exported here (imported lazily, so `import adapt_core` and `python -m adapt_core --help` stay
fast; torch loads on first use):

    load_dataset, DataConfig, TaskData            data.py      corpora, splits, validation
    load_classifier, count_parameters             models.py    registry of models
    FullConfig, AdaptConfig, LoraConfig, …        methods/     one config class per method (StcConfig for STC)
    register_method, get_method, method_names     methods/     the one registry of methods (and their variants)
    method_config, prepare                        methods/     a method's config; set what trains
    TokenPolicy                                   token_policy the automatic acceptance policy for new tokens
    run_tokens                                    token_record the run's new tokens (vetted list or the policy)
    measure, SensitivityConfig, SensitivityReport sensitivity  AdaPT's sensitivity pass, measured once
    field_specs, build_config, method_specs       forms.py     forms (and CLI flags) from the config dataclasses
    TrainConfig, train_steps, train               train.py     the one training loop
    evaluate                                      evaluate.py  metrics
    RunConfig, run_training                       pipeline.py  a whole run into a run folder
    list_runs, load_run                           run_reader   the run store, read back
    load_predictor                                predictor.py predictions from a finished run
    AdaptError                                    errors.py    bad input, with what to fix
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_dataset": "data",
    "DataConfig": "data",
    "TaskData": "data",
    "Split": "data",
    "load_classifier": "models",
    "load_tokenizer": "models",
    "count_parameters": "models",
    "BaseMethodConfig": "methods",
    "FullConfig": "methods",
    "FullTokensConfig": "methods",
    "AdaptConfig": "methods",
    "LoraConfig": "methods",
    "PrefixConfig": "methods",
    "LayersConfig": "methods",
    "StcConfig": "methods",
    "MethodSpec": "methods",
    "REGISTRY": "methods",
    "register_method": "methods",
    "get_method": "methods",
    "method_names": "methods",
    "method_config": "methods",
    "prepare": "methods",
    "save_trained": "methods",
    "load_trained": "methods",
    "TokenPolicy": "token_policy",
    "TokenRecord": "token_record",
    "run_tokens": "token_record",
    "measure": "sensitivity",
    "SensitivityConfig": "sensitivity",
    "SensitivityReport": "sensitivity",
    "field_specs": "forms",
    "build_config": "forms",
    "method_specs": "forms",
    "TrainConfig": "train",
    "train_steps": "train",
    "train": "train",
    "StepLog": "train",
    "evaluate": "evaluate",
    "EvalResult": "evaluate",
    "RunConfig": "pipeline",
    "run_training": "pipeline",
    "list_runs": "run_reader",
    "load_run": "run_reader",
    "load_predictor": "predictor",
    "AdaptError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"adapt_core.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'adapt_core' has no attribute '{name}'")
