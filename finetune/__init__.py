"""Fine-tuning of LoRA / QLoRA adapters for healthbot's answer model.

``python -m finetune build-data | train | evaluate | merge``; see the README section "Fine-tuning".
Importing this package is cheap: torch, transformers and peft load inside the stages.
"""
