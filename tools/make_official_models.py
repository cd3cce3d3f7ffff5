#!/usr/bin/python3
"""make_official_models.py: torch.save files as the MIRD authors' scripts write them, for
tests/test_torch_module.c and tests/test_import_torch.sh (run with /usr/bin/python3, Debian's
python3-torch; the tests themselves never need PyTorch).

The authors' run_training_*.py save the whole model, torch.save(model, 'saved_models/...pt'): a zip
whose pickle names their classes (models.WSABERTReconMIM, models.BERTEncoder, models.MultiEncoder,
models.BERTModel, models.encoderLSTM, models.decoderLSTM, models.TextLSTMEncoder, modules.WSA /
modules.WA / modules.Sparsemax, transformers' BertModel, BertEmbeddings, ..., BertConfig). Those
classes are defined here under the same module and class names (transformers is not installed: its
modules are stand-ins registered in sys.modules), computing with the project's PyTorch reference
(tools/mird_ref.py) so that the expected outputs are the reference's. The objects carry what the
official ones carry besides the weights: the BertConfig objects, the `model` string of BERTModel,
the Sparsemax child of WSA, the `position_ids` buffer of Hugging Face's embeddings (plus the
non-persistent `token_type_ids` buffer of transformers 4), and the hx / cx tensors that the
official LSTM modules keep as attributes after a forward pass. Two cases are saved with the storage
location "cuda:0", as a model trained on a GPU is.

Cases (OUT/<case>/), each a random model of a tiny configuration:
  wsa_bert, wa_bert        whole module, BERT text encoder, fusion WSA / WA (transformers 3 names)
  wsa_lstm, wa_lstm        whole module, LSTM text encoder (transformers 4 names)
  wa_bert_sd               torch.save(model.state_dict()) of the same structure (the official WA
                           state_dict); hidden 64 with one head and beta_shift 1 (the authors'
                           default), since a state_dict records neither (mird assumes hidden / 64
                           heads and the defaults)
Each case holds: model.pt or state_dict.pt, names.txt (model.state_dict().keys() in order),
config.json (the MIRD configuration the weights correspond to), batch.safetensors (the inputs),
expected.safetensors (eval-mode zl, za, zv, zy, y_hat; y_hat also as y_hat.txt), data.pkl (an MMSA pickle whose test split
holds the batch as token ids, for `mird eval` / `mird predict`).
Also OUT/hostile/: small files mird must refuse with one line: modules whose pickle calls os.system or
builtins.eval, modules nested 100 deep, a DAG of shared submodules with 2^40 paths, a child that is
not a module, a MAG-BERT state_dict, the legacy (non-zip) torch.save format.

Usage: tools/make_official_models.py tests/fixtures/torch_module
"""
import json
import os
import pickle
import sys
import types

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mird_ref  # noqa: E402
import ref_bert  # noqa: E402


def stand_in_module(name):
    """An empty module registered as `name` (and its parents), so that pickle finds classes there."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        n = ".".join(parts[:i])
        if n not in sys.modules:
            sys.modules[n] = types.ModuleType(n)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[n])
    return sys.modules[name]


def official_class(module, name, base):
    """A subclass of `base` named module.name as in the authors' code (same methods)."""
    cls = type(name, (base,), {"__module__": module, "__qualname__": name})
    setattr(stand_in_module(module), name, cls)
    return cls


BERT_CLASSES = ["BertModel", "BertEmbeddings", "BertEncoder", "BertLayer", "BertAttention", "BertSelfAttention",
                "BertSelfOutput", "BertIntermediate", "BertOutput", "BertPooler"]


def class_map(fusion, hf_module):
    m = {mird_ref.MIRD: official_class("models", "WSABERTReconMIM", mird_ref.MIRD),
         mird_ref.BERTEncoder: official_class("models", "BERTEncoder", mird_ref.BERTEncoder),
         mird_ref.TextLSTMEncoder: official_class("models", "TextLSTMEncoder", mird_ref.TextLSTMEncoder),
         mird_ref.EncoderLSTM: official_class("models", "encoderLSTM", mird_ref.EncoderLSTM),
         mird_ref.DecoderLSTM: official_class("models", "decoderLSTM", mird_ref.DecoderLSTM),
         mird_ref.MultiEncoder: official_class("models", "MultiEncoder", mird_ref.MultiEncoder),
         mird_ref.BERTModelWSA: official_class("models", "BERTModel", mird_ref.BERTModelWSA),
         mird_ref.WSA: official_class("modules", fusion, mird_ref.WSA),
         mird_ref.BertModel: official_class(hf_module, "BertModel", mird_ref.BertModel)}
    for n in BERT_CLASSES[1:]:
        m[getattr(ref_bert, n)] = official_class(hf_module, n, getattr(ref_bert, n))
    return m


class Sparsemax(nn.Module):  # the authors' modules.Sparsemax holds no weights
    pass


Sparsemax.__module__ = "modules"
stand_in_module("modules").Sparsemax = Sparsemax


def bert_config(hf_config_module, b):
    """A BertConfig object with the attributes a transformers BertConfig has."""
    cls = getattr(stand_in_module(hf_config_module), "BertConfig", None) or \
        official_class(hf_config_module, "BertConfig", object)
    c = cls.__new__(cls)
    c.__dict__.update({"return_dict": True, "output_hidden_states": False, "output_attentions": False,
                       "torchscript": False, "use_bfloat16": False, "pruned_heads": {}, "tie_word_embeddings": True,
                       "is_encoder_decoder": False, "is_decoder": False, "architectures": ["BertForMaskedLM"],
                       "id2label": {0: "LABEL_0"}, "label2id": {"LABEL_0": 0}, "num_labels": 1,
                       "pad_token_id": 0, "model_type": "bert", "vocab_size": b["vocab_size"],
                       "hidden_size": b["hidden_size"], "num_hidden_layers": b["num_hidden_layers"],
                       "num_attention_heads": b["num_attention_heads"], "hidden_act": "gelu",
                       "intermediate_size": b["intermediate_size"], "hidden_dropout_prob": 0.1,
                       "attention_probs_dropout_prob": 0.1, "max_position_embeddings": b["max_position_embeddings"],
                       "type_vocab_size": b["type_vocab_size"], "initializer_range": 0.02,
                       "layer_norm_eps": 1e-12, "gradient_checkpointing": False})
    return c


def officialise(model, cfg, fusion, hf4):
    """Give the reference model the authors' classes and the non-weight state their objects carry."""
    hf_module = "transformers.models.bert.modeling_bert" if hf4 else "transformers.modeling_bert"
    hf_config = "transformers.models.bert.configuration_bert" if hf4 else "transformers.configuration_bert"
    cmap = class_map(fusion, hf_module)
    for m in model.modules():
        if type(m) in cmap:
            m.__class__ = cmap[type(m)]
    conf = bert_config(hf_config, cfg["bert"])
    P = cfg["bert"]["max_position_embeddings"]
    model.config = conf
    model.d_a, model.d_v = cfg["d_a"], cfg["d_v"]
    model.mult_encoder.config = conf
    model.mult_encoder.model.config = conf
    model.mult_encoder.model.model = fusion + "-BERT"
    fm = getattr(model.mult_encoder.model, "WA" if fusion == "WA" else "WSA")
    if fusion == "WSA":
        fm.sparsemax = Sparsemax()
    berts = [model.mult_encoder.model]
    if cfg["text_encoder"] == "bert":
        model.encoder_l.bert.config = conf
        berts.append(model.encoder_l.bert)
    for b in berts:
        b.embeddings.register_buffer("position_ids", torch.arange(P).expand((1, -1)))
        if hf4:
            b.embeddings.register_buffer("token_type_ids", torch.zeros(1, P, dtype=torch.long), persistent=False)


def lstm_leftovers(model, B):
    """The official encoderLSTM / decoderLSTM / TextLSTMEncoder keep self.hx, self.cx after a forward."""
    for m in model.modules():
        if hasattr(m, "lstm") and isinstance(m.lstm, nn.LSTMCell):
            h = m.lstm.hidden_size
            m.hx = torch.tanh(torch.randn(B, h)) * 0.5
            m.cx = torch.randn(B, h)


def tiny_config(fusion, text_encoder, state_dict, micro=False):
    if micro:  # a fuzzing seed of a few KB (fuzz/make_corpus.py)
        return {"bert": {"vocab_size": 6, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2,
                         "intermediate_size": 4, "max_position_embeddings": 8, "type_vocab_size": 2},
                "d_a": 2, "d_v": 3, "zy_size": 2, "zl_size": 2, "za_size": 2, "zv_size": 2, "club_hidden": 2,
                "fusion": fusion, "text_encoder": text_encoder}
    H = 64 if state_dict else 32
    return {"bert": {"vocab_size": 24, "hidden_size": H, "num_hidden_layers": 1,
                     "num_attention_heads": 1 if state_dict else 2, "intermediate_size": 32,
                     "max_position_embeddings": 10, "type_vocab_size": 2},
            "d_a": 5, "d_v": 7, "zy_size": 6, "zl_size": 5, "za_size": 4, "zv_size": 3,
            "beta_shift": 1.0 if state_dict else 0.7, "fusion": fusion, "text_encoder": text_encoder,
            "dropout_prob": 0.3, "dropout_l": 0.2, "dropout_multi": 0.4, "zy_to_y_dropout": 0.25}


def gpu_location_tag():
    """Save CPU storages with location "cuda:0" (as the authors' GPU-trained models are saved)."""
    torch.serialization.register_package(1, lambda obj: "cuda:0",
                                         lambda obj, loc: obj if loc == "cuda:0" else None)


def mmsa_pickle(path, batch, labels):
    ids, mask, tt = (batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids"))
    n = ids.shape[0]
    split = {"id": ["clip_%d" % i for i in range(n)], "text_bert": np.stack([ids, mask, tt], 1),
             "audio": batch["acoustic"], "vision": batch["visual"], "regression_labels": labels}
    with open(path, "wb") as f:
        pickle.dump({"train": split, "valid": split, "test": split}, f, protocol=4)


def write_case(out, name, seed, fusion, text_encoder, state_dict=False, hf4=False, micro=False):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    rs = np.random.RandomState(seed)
    torch.manual_seed(seed)
    user = tiny_config(fusion, text_encoder, state_dict, micro)
    cfg = mird_ref.resolve_config(user)
    model, est = mird_ref.MIRD(cfg), mird_ref.Estimators(cfg)
    mird_ref.random_params(model, est, rs)
    officialise(model, cfg, fusion, hf4)
    model.eval()
    B, Tl, Ta, Tv = 5, 8, 6, 4
    batch = mird_ref.random_batch(rs, cfg, B, 0, Tl, Ta, Tv, pad=True)
    mird_ref.st_save(os.path.join(d, "batch.safetensors"), batch)
    t = {k: torch.from_numpy(v) for k, v in batch.items()}
    with torch.no_grad():
        zl, za, zv, zy, _, _, _, y = model(t["input_ids"], t["attention_mask"], t["token_type_ids"],
                                           t["acoustic"], t["visual"])
    mird_ref.st_save(os.path.join(d, "expected.safetensors"),
                     {"zl": zl.numpy(), "za": za.numpy(), "zv": zv.numpy(), "zy": zy.numpy(),
                      "y_hat": y.numpy().reshape(-1)})
    with open(os.path.join(d, "y_hat.txt"), "w") as f:  # for the shell test
        f.write("".join("%.9g\n" % v for v in y.numpy().reshape(-1)))
    lstm_leftovers(model, B)
    with open(os.path.join(d, "names.txt"), "w") as f:
        f.write("".join(k + "\n" for k in model.state_dict()))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(user, f, indent=1)
    mmsa_pickle(os.path.join(d, "data.pkl"), batch, rs.uniform(-3, 3, size=B).astype(np.float32))
    if state_dict:
        torch.save(model.state_dict(), os.path.join(d, "state_dict.pt"))
    else:
        torch.save(model, os.path.join(d, "model.pt"))
    return model


class Evil:
    def __reduce__(self):
        return (os.system, ("touch mird_pwned",))


class EvalCall:
    def __reduce__(self):
        return (eval, ("open('mird_pwned', 'w')",))


def hostile(out):
    """Small files that must be refused with one line (tests/test_bad_inputs.sh, fuzz seeds)."""
    d = os.path.join(out, "hostile")
    os.makedirs(d, exist_ok=True)
    Tiny = official_class("models", "Tiny", nn.Module)

    def tiny():
        t = Tiny()
        t.fc = nn.Linear(2, 2)
        return t
    m = tiny()
    m.payload = Evil()  # an attribute whose pickle calls os.system
    torch.save(m, os.path.join(d, "os_system.pt"))
    m = tiny()
    m.config = {"x": EvalCall()}  # builtins.eval, one level down
    torch.save(m, os.path.join(d, "eval.pt"))
    # modules nested 100 deep (mird stops at 64)
    root = cur = tiny()
    for _ in range(100):
        cur.sub = Tiny()
        cur = cur.sub
    sys.setrecursionlimit(20000)
    torch.save(root, os.path.join(d, "deep.pt"))
    # a DAG of shared submodules: 2^40 paths to the last one, a few KB with pickle's memo
    cur = tiny()
    for _ in range(40):
        up = Tiny()
        up.a = cur
        up.b = cur
        cur = up
    torch.save(cur, os.path.join(d, "dag.pt"))
    m = tiny()
    m._modules["bad"] = 3  # a child that is not a module
    torch.save(m, os.path.join(d, "not_a_module.pt"))
    # the MAG-BERT variant (not implemented by mird), as a state_dict
    torch.save({"mult_encoder.model.MAG.W_ha.weight": torch.zeros(4, 9)}, os.path.join(d, "mag_state_dict.pt"))
    # the legacy (non-zip) format of PyTorch < 1.6
    torch.save(tiny().state_dict(), os.path.join(d, "legacy.pt"), _use_new_zipfile_serialization=False)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    write_case(out, "wa_bert_sd", 11, "WA", "bert", state_dict=True)
    write_case(out, "wsa_lstm", 13, "WSA", "lstm", hf4=True)
    write_case(out, "wa_lstm", 14, "WA", "lstm", hf4=True)
    gpu_location_tag()  # from here on, storages say "cuda:0"
    write_case(out, "wsa_bert", 15, "WSA", "bert")
    write_case(out, "wa_bert", 16, "WA", "bert")
    hostile(out)
    print("wrote", out)


if __name__ == "__main__":
    main()
