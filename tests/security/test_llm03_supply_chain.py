"""LLM03 supply chain: no remote code and no pickle anywhere in the code that loads models or
data, and manifests with a tampered hash are refused on load.

Behaviour of the loaders themselves is tested by their owners: a pickle-only checkpoint is
refused and an adapter for another base is refused (tests/unit/test_llm_hf.py), a killed index
build leaves the previous index loadable (tests/unit/test_knowledge_index.py).
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from knowledge.documents import Document
from tests.security.hostile import build_real_index, security_settings

REPO = Path(__file__).resolve().parents[2]
CODE_ROOTS = ["chatbot", "knowledge", "finetune", "benchmarks", "app.py"]
# Module attributes whose call deserialises arbitrary Python objects.
PICKLE_LOADERS = {
    ("torch", "load"),
    ("pickle", "load"),
    ("pickle", "loads"),
    ("cPickle", "load"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
    ("shelve", "open"),
}


def _sources() -> list[Path]:
    files: list[Path] = []
    for root in CODE_ROOTS:
        path = REPO / root
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if "__pycache__" not in f.parts]


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def unsafe_loading(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every remote-code or pickle load in ``tree``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "trust_remote_code" and not _is_false(kw.value):
                    found.append((node.lineno, "trust_remote_code not literally False"))
                if kw.arg == "allow_pickle" and _is_true(kw.value):
                    found.append((node.lineno, "allow_pickle=True"))
                if kw.arg == "weights_only" and _is_false(kw.value):
                    found.append((node.lineno, "weights_only=False"))
                if kw.arg == "use_safetensors" and _is_false(kw.value):
                    found.append((node.lineno, "use_safetensors=False"))
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in PICKLE_LOADERS
            ):
                found.append((node.lineno, f"{func.value.id}.{func.attr}()"))
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "trust_remote_code" and not _is_false(value):
                    found.append((node.lineno, "'trust_remote_code' not literally False"))
        if (
            isinstance(node, ast.ImportFrom)
            and node.module in ("pickle", "dill", "cloudpickle", "joblib")
            and any(alias.name in ("load", "loads") for alias in node.names)
        ):
            found.append((node.lineno, f"from {node.module} import load"))
    return found


def test_scanner_finds_what_it_looks_for() -> None:
    bad = ast.parse(
        "import torch, pickle\n"
        "m = AutoModel.from_pretrained(p, trust_remote_code=True)\n"
        "t = AutoTokenizer.from_pretrained(p, trust_remote_code=flag)\n"
        "kw = {'trust_remote_code': True}\n"
        "s = torch.load(f)\n"
        "o = pickle.loads(b)\n"
        "a = np.load(f, allow_pickle=True)\n"
        "w = torch.load(f, weights_only=False)\n"
        "from pickle import loads\n"
    )
    assert len(unsafe_loading(bad)) == 9
    good = ast.parse("m = AutoModel.from_pretrained(p, trust_remote_code=False, use_safetensors=True)\n")
    assert unsafe_loading(good) == []


def test_no_remote_code_and_no_pickle_loading_in_the_code() -> None:
    files = _sources()
    assert len(files) > 20
    problems = [
        f"{f.relative_to(REPO)}:{line}: {what}"
        for f in files
        for line, what in unsafe_loading(ast.parse(f.read_text(encoding="utf-8"), str(f)))
    ]
    assert not problems, "\n".join(problems)


def test_model_loaders_ask_for_safetensors_explicitly() -> None:
    """Every from_pretrained of model weights in the serving and training code names its format."""
    problems = []
    for f in _sources():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_pretrained"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id.endswith("ForCausalLM")
            ):
                names = {kw.arg for kw in node.keywords}
                if "use_safetensors" not in names and "gguf_file" not in names and None not in names:
                    problems.append(f"{f.relative_to(REPO)}:{node.lineno}")
    assert not problems, "from_pretrained without use_safetensors=True: " + ", ".join(problems)


# ------------------------------------------------------------------------------ index manifest

DOCS = [
    Document(id="asthma", title="Asthma", text="Asthma makes the airways narrow. Inhalers open them.", source="t"),
    Document(id="flu", title="Influenza", text="Influenza causes fever and cough. A vaccine helps.", source="t"),
]


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    settings = security_settings(tmp_path / "data")
    build_real_index(settings, DOCS)
    return settings.index_dir


def _load(index_dir: Path) -> object:
    from knowledge.index import load_retriever

    return load_retriever(security_settings(index_dir.parent))


def test_index_with_a_rewritten_passage_is_refused(index_dir: Path) -> None:
    from knowledge.errors import KnowledgeError

    path = index_dir / "chunks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    row["text"] = "Asthma makes the airways narrow. Stop using your inhaler."  # still valid JSON
    path.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="checksum"):
        _load(index_dir)


def test_index_manifest_with_a_tampered_hash_is_refused(index_dir: Path) -> None:
    from knowledge.errors import KnowledgeError

    manifest = json.loads((index_dir / "manifest.json").read_text())
    name = sorted(manifest["files"])[0]
    manifest["files"][name] = "0" * 64
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(KnowledgeError, match="checksum"):
        _load(index_dir)


def test_index_with_a_swapped_but_valid_vector_file_is_refused(index_dir: Path, tmp_path: Path) -> None:
    from knowledge.errors import KnowledgeError

    other = security_settings(tmp_path / "other")
    build_real_index(other, [*DOCS, Document(id="bp", title="Blood pressure", text="Salt raises it.", source="t")])
    shutil.copy(other.index_dir / "dense.faiss", index_dir / "dense.faiss")
    with pytest.raises(KnowledgeError):
        _load(index_dir)


def test_untouched_index_loads(index_dir: Path) -> None:
    retriever = _load(index_dir)
    assert retriever.search("asthma inhaler", 1)[0].doc_id == "asthma"  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ adapter metadata


def _checkpoint(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2}))
    (path / "model.safetensors").write_bytes(b"\0" * 128)
    return path


def test_adapter_metadata_with_a_tampered_base_hash_is_refused(tmp_path: Path) -> None:
    from finetune.metadata import AdapterMismatchError, base_identity, check_base_matches, write_metadata

    base = _checkpoint(tmp_path / "base")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    kind, digest = base_identity(base)
    meta = {"format": 1, "base_model": str(base), "base_identity": kind, "base_sha256": digest}
    write_metadata(adapter, meta)
    assert check_base_matches(adapter, base) is not None
    write_metadata(adapter, {**meta, "base_sha256": "f" * 64})
    with pytest.raises(AdapterMismatchError, match="ffffffffffff"):
        check_base_matches(adapter, base)
    # ... and so is the right metadata on a base whose weights file was replaced.
    write_metadata(adapter, meta)
    (base / "model.safetensors").write_bytes(b"\0" * 256)
    with pytest.raises(AdapterMismatchError):
        check_base_matches(adapter, base)


@pytest.mark.slow  # loads a tiny transformers model (torch + peft import)
def test_adapter_with_tampered_weights_is_refused(tmp_path: Path) -> None:
    """The adapter's own weights are part of what its metadata vouches for."""
    import torch
    from safetensors.torch import load_file, save_file

    from chatbot.llm.adapters import AdapterIntegrityError
    from chatbot.llm.hf import HFGenerator
    from chatbot.settings import LLMSettings
    from finetune.metadata import base_identity, stamp_metadata
    from tests.unit.llm_tiny import save_tiny_llama
    from tests.unit.test_llm_hf import make_adapter

    base = save_tiny_llama(tmp_path / "llama")
    adapter = make_adapter(base, tmp_path / "adapter")
    meta = {"format": 1, "base_model": str(base), "base_sha256": base_identity(base)[1]}
    stamp_metadata(adapter, meta)  # what training writes
    settings = LLMSettings(model=str(base), adapter=str(adapter), max_new_tokens=2)
    HFGenerator(settings, tmp_path / "cache")
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(weights)
    save_file({k: v * 3 if i == 0 else v for i, (k, v) in enumerate(tensors.items())}, weights)
    assert torch.is_tensor(next(iter(tensors.values())))
    with pytest.raises(AdapterIntegrityError, match=r"adapter_model\.safetensors was changed after") as err:
        HFGenerator(settings, tmp_path / "cache")
    assert "\n" not in str(err.value) and "finetune stamp" in str(err.value)
    # A rewritten adapter_config.json (a larger lora_alpha silently scales the update) is refused too.
    save_file(tensors, weights)
    stamp_metadata(adapter, meta)
    config = adapter / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "lora_alpha": 64}))
    with pytest.raises(AdapterIntegrityError, match=r"adapter_config\.json was changed after"):
        HFGenerator(settings, tmp_path / "cache")
    # Metadata that vouches for the base but not for the adapter's own files (older adapters).
    (adapter / "healthbot_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(AdapterIntegrityError, match="records no sha256 of the adapter's own files"):
        HFGenerator(settings, tmp_path / "cache")


# ------------------------------------------------------------------------------ pip-audit step


@pytest.mark.integration  # the real embedded MiniLM, re-saved with pickled weights
def test_embedder_with_only_pickled_weights_is_refused(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer

    from chatbot.errors import HealthbotError
    from chatbot.settings import Settings
    from knowledge.st_embedder import SentenceTransformerEmbedder, resolve_model_path

    settings = Settings().embedding
    pickled = tmp_path / "pickled-embedder"
    SentenceTransformer(resolve_model_path(settings.model)).save(str(pickled))
    torch.save(load_file(str(pickled / "model.safetensors")), str(pickled / "pytorch_model.bin"))
    (pickled / "model.safetensors").unlink()
    with pytest.raises(HealthbotError, match=r"model\.safetensors"):
        SentenceTransformerEmbedder(settings.model_copy(update={"model": str(pickled)}))


def test_pip_audit_step_fails_only_on_known_vulnerabilities() -> None:
    from tests.security.pip_audit_ci import summarize

    report = {
        "dependencies": [
            {"name": "fastapi", "version": "0.1", "vulns": [{"id": "PYSEC-1", "fix_versions": ["0.2"]}]},
            {"name": "numpy", "version": "2.4.6", "vulns": []},
            {"name": "torch", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        ]
    }
    vulnerable, skipped, audited = summarize(report)
    assert vulnerable == ["fastapi 0.1: PYSEC-1 (fixed in 0.2)"]
    assert skipped == ["torch"] and audited == 2
    assert summarize({"dependencies": []}) == ([], [], 0)
