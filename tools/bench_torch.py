#!/usr/bin/python3
"""bench_torch.py: mird versus PyTorch on the same MIRD training step, same machine, same threads.

The PyTorch side is the project's reference model (tools/mird_ref.py: the whole MIRD model, its
losses, transformers-style AdamW and the CLUB estimators, official state_dict names) run as the
official training step does (MIRD.md "One training step"): train mode (dropout on), one AdamW step
on the model, then K = 5 Adam steps on the estimators. Estimator modes:
  official  a fresh forward of the latents (train mode, no gradient) before each estimator step;
  once      the latents computed once after the model update and reused (`mird bench`'s default;
            `mird train` defaults to official).

Modes:
  bench_torch.py case DIR --size small|paper|paper12 [--B 24] [--B-l 8] [--seed 1]
      Writes DIR/ckpt.safetensors (config in the metadata) and DIR/batch.safetensors.
      small: 2 BERT layers, hidden 128 (2 heads, intermediate 512); paper: ONE BERT layer of
      bert-base width (hidden 768, 12 heads, intermediate 3072); paper12: the paper's model, 12
      layers of bert-base (226.6 M parameters). All: vocabulary 30522, Tl 50, Ta 400 (d_a 33),
      Tv 55 (d_v 709), latents 64, batch B rows of which B_l labeled (the paper: 48 + 96).
  bench_torch.py torch --checkpoint CKPT --batch BATCH [--steps N] [--club-mode official|once]
                       [--threads 2] [--json]
      Times N PyTorch training steps after one untimed warm-up step; prints, as its last line, one
      JSON object with the same keys as `mird bench` (step_seconds_median, step_seconds_min,
      peak_rss_bytes, step_peak_rss_bytes, club_mode) plus a coarse stage split.
  bench_torch.py run [--mird build/mird] [--threads 2] [--sizes small,paper,paper12] [--rounds 2]
                     [--paper-batch] [--precision fp32|bf16] ...
      The whole comparison (scripts/bench.sh calls it): builds the cases in a temporary folder,
      then for each size runs `mird bench` (once, official) and PyTorch (official, once) as
      separate processes, interleaved over several rounds so that load from other processes on the
      machine hits both alike, and prints the ratios of the per-process median step times (the
      minimum of those medians over the rounds), the peak memory ratios, mird's GEMM work per
      step, its rate as a fraction of dnnl_sgemm's measured in the same process (`mird bench`),
      the projected CMU-MOSI epoch and 100 epochs, and the GEMM probe. --paper-batch adds the
      12-layer model at the paper's batch of 48 + 96 rows (one round, one timed step each).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SIZES = {
    "small": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512},
    "paper": {"hidden_size": 768, "num_hidden_layers": 1, "num_attention_heads": 12, "intermediate_size": 3072},
    "paper12": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}
SHAPE = {"Tl": 50, "Ta": 400, "Tv": 55, "d_a": 33, "d_v": 709, "V": 30522}


# ----------------------------------------------------------------------------- cases
def make_case(d, size, B, B_l, seed):
    import numpy as np
    import torch
    import mird_ref as R
    os.makedirs(d, exist_ok=True)
    rs = np.random.RandomState(seed)
    torch.manual_seed(seed)
    bert = dict(SIZES[size])
    bert["vocab_size"] = SHAPE["V"]
    user = {"bert": bert, "d_a": SHAPE["d_a"], "d_v": SHAPE["d_v"]}
    cfg = R.resolve_config(user)
    model, est = R.MIRD(cfg), R.Estimators(cfg)
    # the official initialisation's distributions (MIRD.md "Initialisation"): N(0, 0.02) for every
    # Linear / Embedding outside the LSTMCells, LayerNorm 1 / 0; LSTMCells and CLUBs keep PyTorch's.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".lstm." in n:
                continue
            if "LayerNorm.weight" in n:
                p.fill_(1.0)
            elif n.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02)
    tensors = {k: v.detach().numpy().copy() for k, v in list(model.state_dict().items()) +
               list(est.state_dict().items())}
    R.st_save(os.path.join(d, "ckpt.safetensors"), tensors, {"mird.config": json.dumps(user)})
    Tl, Ta, Tv, V = SHAPE["Tl"], SHAPE["Ta"], SHAPE["Tv"], SHAPE["V"]
    ids = np.zeros((B, Tl), dtype=np.int64)
    mask = np.zeros((B, Tl), dtype=np.int64)
    ac = rs.randn(B, Ta, SHAPE["d_a"]).astype(np.float32)
    vi = rs.randn(B, Tv, SHAPE["d_v"]).astype(np.float32)
    for i in range(B):  # text of 8..50 word pieces: [CLS] ... [SEP] [PAD]...; padded audio / video
        n = int(rs.randint(8, Tl + 1))
        ids[i, :n] = rs.randint(1000, V, size=n)
        ids[i, 0], ids[i, n - 1] = 101, 102
        mask[i, :n] = 1
        ac[i, int(rs.randint(Ta // 4, Ta + 1)):] = 0
        vi[i, int(rs.randint(Tv // 4, Tv + 1)):] = 0
    labels = rs.uniform(-3, 3, size=(B_l,)).astype(np.float32)
    R.st_save(os.path.join(d, "batch.safetensors"),
              {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids), "acoustic": ac,
               "visual": vi, "labels": labels})


# ----------------------------------------------------------------------------- PyTorch timing
def hwm_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def hwm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def torch_bench(a):
    import torch
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # as mird does (core/fpenv.h): the same floating-point mode for both
    import mird_ref as R
    cfg, model, est = R.load_model(a.checkpoint)
    batch, B_l = R.load_batch(a.batch)
    torch.manual_seed(a.seed)
    named = list(model.named_parameters())
    nodecay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    opt = R.AdamW([{"params": [p for n, p in named if not any(s in n for s in nodecay)], "weight_decay": 0.01},
                   {"params": [p for n, p in named if any(s in n for s in nodecay)], "weight_decay": 0.0}], lr=1e-5)
    mi_opt = torch.optim.Adam(est.parameters(), lr=1e-3)
    model.train()
    est.train()
    ids, mask, tt, ac, vi, _ = batch
    lat_names = {"zl": 0, "za": 1, "zv": 2, "zy": 3}
    K = 5
    split = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0, "estimator": 0.0}

    def step(acc):
        t0 = time.perf_counter()
        o = R.model_losses(model, est, batch, B_l, "log")
        t1 = time.perf_counter()
        opt.zero_grad()
        o["loss.total"].backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        lat = None
        for _ in range(K):
            if a.club_mode == "official":
                l = R.est_loss(model, est, batch)  # fresh train-mode forward, no gradient into the model
            else:
                if lat is None:
                    with torch.no_grad():
                        lat = model.latents(ids, mask, tt, ac, vi)
                l = sum(getattr(est, "club_" + n).learning_loss(lat[lat_names[x]], lat[lat_names[y]])
                        for n, x, y in R.CLUB_PAIRS)
            mi_opt.zero_grad()
            l.backward()
            mi_opt.step()
        t4 = time.perf_counter()
        if acc:
            split["forward"] += t1 - t0
            split["backward"] += t2 - t1
            split["optimizer"] += t3 - t2
            split["estimator"] += t4 - t3
        return float(o["loss.total"])

    hwm_ok = hwm_reset()
    step(False)  # warm-up
    ts = []
    loss = None
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step(True)
        ts.append(time.perf_counter() - t0)
    out = {"command": "torch", "club_mode": a.club_mode, "steps": a.steps, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "batch_rows": int(ids.shape[0]), "batch_labeled": B_l,
           "hidden_size": cfg["bert"]["hidden_size"], "num_hidden_layers": cfg["bert"]["num_hidden_layers"],
           "step_seconds_median": statistics.median(ts), "step_seconds_min": min(ts), "step_seconds": ts,
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
           "step_peak_rss_bytes": hwm_bytes() if hwm_ok else -1, "last_loss": loss,
           "stages": {k: {"seconds": v / a.steps} for k, v in split.items()}}
    if not a.json:
        for k, v in split.items():
            print("%-12s %.4f s/step" % (k, v / a.steps))
    print(json.dumps(out))


# ----------------------------------------------------------------------------- the comparison
def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + text[-2000:])


def run_proc(cmd, env):
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    r = last_json(p.stdout)
    r["_wall"] = time.time() - t0
    r["_stdout"] = p.stdout
    return r


def gemm_probe(a):
    exe = os.path.join(os.path.dirname(a.mird), "gemm_probe")
    if not os.path.exists(exe):
        return None
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = subprocess.run([exe, "--threads", str(a.threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    return p.stdout


def case_list(a):
    """(size, B, B_l, programs) of every case: each size at --B / --B-l with all four processes, and
    with --paper-batch the 12-layer model at the paper's batch (48 + 96): mird in both modes and
    PyTorch once (its official step differs only by 5 no-gradient re-forwards: same peak memory)."""
    cases = [(size, a.B, a.B_l, ("mird_once", "torch_official", "mird_official", "torch_once"))
             for size in a.sizes.split(",") if size]
    if a.paper_batch:
        cases.append(("paper12", 144, 48, ("mird_once", "torch_once", "mird_official")))
    return cases


def run_all(a):
    t_start = time.time()
    work = a.workdir or tempfile.mkdtemp(prefix="mird-bench-")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the same OpenMP settings for both programs
    print("mird vs PyTorch: one MIRD training step (dropout on, AdamW + K = 5 estimator steps)")
    print("threads %d, Tl %d, Ta %d x %d, Tv %d x %d, V %d; work dir %s" %
          (a.threads, SHAPE["Tl"], SHAPE["Ta"], SHAPE["d_a"], SHAPE["Tv"], SHAPE["d_v"], SHAPE["V"], work))
    sys.stdout.flush()
    results = []
    for size, B, B_l, progs in case_list(a):
        name = "%s B%d" % (size, B)
        d = os.path.join(work, "%s_B%d_%d" % (size, B, B_l))
        if not os.path.exists(os.path.join(d, "batch.safetensors")):
            make_case(d, size, B, B_l, a.seed)
        ck, bt = os.path.join(d, "ckpt.safetensors"), os.path.join(d, "batch.safetensors")
        big = B > 48  # the paper's batch: fewer steps and rounds (minutes per step)
        steps_m, steps_t, rounds = (1, 1, 1) if big else (a.mird_steps, a.torch_steps, a.rounds)
        cmds = {}
        for mode in ("once", "official"):
            cmds["mird_" + mode] = [a.mird, "bench", "--checkpoint", ck, "--batch", bt, "--steps", str(steps_m),
                                    "--club-mode", mode, "--threads", str(a.threads), "--probe-reps", "3",
                                    "--precision", a.precision, "--json"]
            cmds["torch_" + mode] = [sys.executable, os.path.abspath(__file__), "torch", "--checkpoint", ck, "--batch",
                                     bt, "--steps", str(steps_t), "--club-mode", mode, "--threads", str(a.threads),
                                     "--json"]
        runs = {k: [] for k in progs}
        for r in range(rounds):
            for k in (progs if r % 2 == 0 else progs[::-1]):
                res = run_proc(cmds[k], env)
                runs[k].append(res)
                print("  %-14s round %d %-15s median %8.4f s  min %8.4f s  peak RSS %7.1f MiB  (process %.0f s)" %
                      (name, r + 1, k, res["step_seconds_median"], res["step_seconds_min"],
                       res["peak_rss_bytes"] / 2 ** 20, res["_wall"]))
                sys.stdout.flush()
        results.append((name, B, B_l, runs))
    print()
    print("Ratios (PyTorch time / mird time; per process the median step, then the best process of its rounds;"
          " 'paired' pairs the per-round medians and takes their median). mird precision: %s" % a.precision)
    summary = {}
    for name, B, B_l, runs in results:
        best = {k: min(x["step_seconds_median"] for x in v) for k, v in runs.items()}
        mem = {k: max(x["peak_rss_bytes"] for x in v) for k, v in runs.items()}
        smem = {k: max(x["step_peak_rss_bytes"] for x in v) for k, v in runs.items()}
        print("[%s] %d rows (%d labeled): step seconds (best median): %s" %
              (name, B, B_l, ", ".join("%s %.3f" % (k.replace("_", " "), v) for k, v in best.items())))
        out = {"best_median_seconds": best, "peak_rss_bytes": mem, "B": B, "B_l": B_l}
        for num, den, label, target in (("torch_official", "mird_official", "official mode:  torch official / mird official", 2),
                                        ("torch_official", "mird_once", "default mode:   torch official / mird once    ", 5),
                                        ("torch_once", "mird_once", "same procedure: torch once / mird once        ", None)):
            if num not in runs or den not in runs:
                continue
            r = best[num] / best[den]
            n = min(len(runs[num]), len(runs[den]))
            paired = statistics.median(runs[num][i]["step_seconds_median"] / runs[den][i]["step_seconds_median"]
                                       for i in range(n))
            print("[%s] %s = %5.2fx (paired %5.2fx)%s" % (name, label, r, paired,
                  "" if target is None else "   target >= %dx  %s" % (target, "OK" if r >= target else "MISSED")))
            out["ratio_%s_%s" % (num, den)] = r
        mird_mem = max(v for k, v in mem.items() if k.startswith("mird"))
        torch_mem = min(v for k, v in mem.items() if k.startswith("torch"))
        print("[%s] peak RSS (whole process): %s; mird / torch = %.2f   target <= 1  %s" %
              (name, ", ".join("%s %.0f MiB" % (k.replace("_", " "), v / 2 ** 20) for k, v in mem.items()),
               mird_mem / torch_mem, "OK" if mird_mem <= torch_mem else "MISSED"))
        print("[%s] peak RSS during the steps only: mird %.0f MiB, torch %.0f MiB" %
              (name, max(v for k, v in smem.items() if k.startswith("mird")) / 2 ** 20,
               max(v for k, v in smem.items() if k.startswith("torch")) / 2 ** 20))
        for mode in ("once", "official"):
            js = [x for x in runs.get("mird_" + mode, [])]
            if not js:
                continue
            j = min(js, key=lambda x: x["step_seconds_median"])
            print("[%s] mird %-8s GEMM work %7.1f GFLOP/step (padded count; %.1f executed), %6.1f GFLOP/s = %.3f of "
                  "dnnl_sgemm's %.1f in the same process; epoch of %d clips %.1f min, %d epochs %.1f h" %
                  (name, mode, j["gflop_per_step_reference"], j["gflop_per_step"], j["gflops_achieved"],
                   j.get("gemm_fraction", float("nan")), j.get("gemm_probe_gflops", float("nan")), j["epoch_clips"],
                   j["epoch_seconds_projected"] / 60, j["epochs"], j["run_hours_projected"]))
            out["mird_" + mode] = {k: j[k] for k in ("gflop_per_step_reference", "gflop_per_step", "gflops_achieved",
                                                     "gemm_fraction", "gemm_probe_gflops", "epoch_seconds_projected",
                                                     "run_hours_projected", "step_cpu_seconds_median") if k in j}
        if "mird_once" in runs and runs["mird_once"][0].get("stages"):
            print("[%s] mird once, stage split of round 1 (s/step, GEMM GFLOP/s):" % name)
            for st, v in runs["mird_once"][0]["stages"].items():
                print("      %-28s %8.4f s %8.1f GFLOP/s" % (st, v["seconds"], v.get("gflops", 0.0)))
        if "torch_official" in runs:
            print("[%s] torch official, split of round 1: %s" % (name, ", ".join(
                "%s %.3f s" % (k, v["seconds"]) for k, v in runs["torch_official"][0].get("stages", {}).items())))
        summary[name] = out
    probe = gemm_probe(a)
    if probe:
        print()
        print("GEMM probe (build/gemm_probe, OMP_NUM_THREADS=%d):" % a.threads)
        print(probe.rstrip())
    print()
    print("total benchmark wall time %.0f s" % (time.time() - t_start))
    print(json.dumps({"summary": summary, "threads": a.threads, "precision": a.precision}))
    if not a.workdir and not a.keep:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("case")
    c.add_argument("dir")
    c.add_argument("--size", choices=sorted(SIZES), default="small")
    c.add_argument("--B", type=int, default=24)
    c.add_argument("--B-l", type=int, default=8)
    c.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("torch")
    t.add_argument("--checkpoint", required=True)
    t.add_argument("--batch", required=True)
    t.add_argument("--steps", type=int, default=3)
    t.add_argument("--club-mode", choices=["official", "once"], default="official")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--json", action="store_true")
    r = sub.add_parser("run")
    r.add_argument("--mird", default="build/mird")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--sizes", default="small,paper,paper12")
    r.add_argument("--paper-batch", action="store_true",
                   help="also the 12-layer model at the paper's batch, 48 + 96 rows (mird both modes, PyTorch once)")
    r.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="mird's --precision")
    r.add_argument("--rounds", type=int, default=2)
    r.add_argument("--B", type=int, default=24)
    r.add_argument("--B-l", type=int, default=8)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--mird-steps", type=int, default=2)
    r.add_argument("--torch-steps", type=int, default=1)
    r.add_argument("--workdir", default=None, help="keep / reuse the cases here")
    r.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if a.mode == "case":
        make_case(a.dir, a.size, a.B, a.B_l, a.seed)
    elif a.mode == "torch":
        torch_bench(a)
    else:
        run_all(a)


if __name__ == "__main__":
    sys.exit(main())
