#!/usr/bin/python3
"""bench_mpi.py: data-parallel scaling of `mird bench` on one machine (docs/distributed.md).

For each size it times the SAME global batch as
  * 1 process x T threads          (mird bench --threads T)
  * R ranks x T/R threads each     (mpirun -np R mird bench --threads T/R)
interleaved over several rounds (so load from other work hits both alike), and reports
  * throughput ratio = step time of 1 x T / step time of R x T/R  (target >= 0.9 at the paper size)
  * allreduce share  = the "comm.allreduce" stage / the step, in the R-rank run (target <= 10%)
  * the other exchanges (loss sums, latent gathers: they also hold the wait for the slowest rank)
  * the gradient bytes each rank sends per step (parameters x 4).

  bench_mpi.py --sizes small,paper [--rounds 2] [--steps 3] [--ranks 2] [--threads 2] [--workdir DIR]

Sizes (no PyTorch needed: `mird init` writes the checkpoint, numpy the batch):
  tiny   1 BERT layer, hidden 64, vocabulary 2000, Ta 40, Tv 20 (seconds; checks the script)
  small  2 BERT layers, hidden 128, 2 heads, vocabulary 30522, Ta 400, Tv 55 (as tools/bench_torch.py)
  paper  the paper's model: 12-layer BERT-base (hidden 768), vocabulary 30522, Tl 50, Ta 400 x 33,
         Tv 55 x 709; two BERT-base encoders, 226.6 M parameters. Needs about 14 GB for the
         1-process run and 2 x 9 GB for 2 ranks (one after the other), and about 5 minutes per step
         on a 2-core machine: run it on a quiet machine.
Batch: 48 labeled + 96 unlabeled rows (the paper's batch with split rate 2) unless --B / --B-l.
The last line is one JSON object with every number.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

SIZES = {
    "tiny": {"bert": {"vocab_size": 2000, "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                      "intermediate_size": 128}, "Ta": 40, "Tv": 20},
    "small": {"bert": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "intermediate_size": 512}, "Ta": 400, "Tv": 55},
    "paper": {"bert": {}, "Ta": 400, "Tv": 55},
}
TL, DA, DV = 50, 33, 709


def st_save(path, tensors):
    """A safetensors file from numpy arrays (F32 / I64)."""
    import numpy as np
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        b = a.tobytes()
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_case(d, size, B, B_l, mird, seed=1):
    import numpy as np
    os.makedirs(d, exist_ok=True)
    spec = SIZES[size]
    cfg = {"bert": spec["bert"], "d_a": DA, "d_v": DV}
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(cfg, f)
    subprocess.run([mird, "init", "--config", os.path.join(d, "model.json"), "--seed", "0", "--out",
                    os.path.join(d, "ckpt.safetensors")], check=True)
    V = spec["bert"].get("vocab_size", 30522)
    Ta, Tv = spec["Ta"], spec["Tv"]
    rs = np.random.RandomState(seed)
    ids = np.zeros((B, TL), dtype=np.int64)
    mask = np.zeros((B, TL), dtype=np.int64)
    ac = rs.randn(B, Ta, DA).astype(np.float32)
    vi = rs.randn(B, Tv, DV).astype(np.float32)
    for i in range(B):  # text of 8..50 word pieces: [CLS] ... [SEP] [PAD]...; padded audio / video
        n = int(rs.randint(8, TL + 1))
        ids[i, :n] = rs.randint(min(1000, V - 1), V, size=n)
        ids[i, 0], ids[i, n - 1] = min(101, V - 1), min(102, V - 1)
        mask[i, :n] = 1
        ac[i, int(rs.randint(Ta // 4, Ta + 1)):] = 0
        vi[i, int(rs.randint(Tv // 4, Tv + 1)):] = 0
    st_save(os.path.join(d, "batch.safetensors"),
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids), "acoustic": ac,
             "visual": vi, "labels": rs.uniform(-3, 3, size=(B_l,)).astype(np.float32)})


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in:\n" + text[-2000:])


def run(cmd, env):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        raise RuntimeError("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout[-3000:]))
    return last_json(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mird", default="build/mird")
    ap.add_argument("--sizes", default="tiny")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads of the 1-process run (split over the ranks)")
    ap.add_argument("--B", type=int, default=144)
    ap.add_argument("--B-l", type=int, default=48)
    ap.add_argument("--club-mode", default="once", choices=["once", "official"])
    ap.add_argument("--workdir", default=None, help="keep / reuse the cases here")
    a = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if os.geteuid() == 0:  # Open MPI refuses root unless told
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    work = a.workdir or tempfile.mkdtemp(prefix="mird_bench_mpi_")
    per_rank = max(1, a.threads // a.ranks)
    out = {"command": "bench_mpi", "ranks": a.ranks, "threads_single": a.threads, "threads_per_rank": per_rank,
           "batch_rows": a.B, "batch_labeled": a.B_l, "club_mode": a.club_mode, "sizes": {}}
    for size in a.sizes.split(","):
        d = os.path.join(work, size)
        if not os.path.exists(os.path.join(d, "batch.safetensors")):
            make_case(d, size, a.B, a.B_l, a.mird)
        common = ["bench", "--checkpoint", os.path.join(d, "ckpt.safetensors"), "--batch",
                  os.path.join(d, "batch.safetensors"), "--steps", str(a.steps), "--club-mode", a.club_mode, "--json"]
        single = [a.mird] + common + ["--threads", str(a.threads)]
        multi = ["mpirun", "--oversubscribe", "-np", str(a.ranks), "--bind-to", "core" if per_rank == 1 else "none",
                 a.mird] + common + ["--threads", str(per_rank)]
        t1, tn, share, other, runs = [], [], [], [], []
        for r in range(a.rounds):
            order = [("single", single), ("multi", multi)]
            if r % 2:
                order.reverse()  # alternate who goes first
            for name, cmd in order:
                j = run(cmd, env)
                st = j["stages"]
                step = j["step_seconds_median"]
                if name == "single":
                    t1.append(step)
                else:
                    tn.append(step)
                    mean_step = st["step"]["seconds"]
                    share.append(st.get("comm.allreduce", {}).get("seconds", 0.0) / mean_step)
                    other.append((st.get("comm.loss_sums", {}).get("seconds", 0.0) +
                                  st.get("comm.gather_latents", {}).get("seconds", 0.0)) / mean_step)
                    out.setdefault("parameters", {})[size] = j["parameters"]
                runs.append({"round": r, "run": name, "step_seconds_median": step,
                             "peak_rss_bytes": j.get("peak_rss_bytes_all_ranks", j["peak_rss_bytes"])})
                print("%-6s round %d %-6s step %.4f s" % (size, r, name, step), file=sys.stderr)
        res = {"single_step_seconds": min(t1), "multi_step_seconds": min(tn),
               "throughput_ratio": min(t1) / min(tn),
               "throughput_ratio_paired": statistics.median(x / y for x, y in zip(t1, tn)),
               "allreduce_share": statistics.median(share), "other_exchanges_share": statistics.median(other),
               "gradient_bytes_per_rank": 4 * out["parameters"][size], "runs": runs}
        out["sizes"][size] = res
        print("%-6s 1 x %d threads %.4f s/step, %d ranks x %d %.4f s/step: throughput ratio %.3f (paired %.3f; "
              "target >= 0.9 at paper), allreduce %.1f%% of the step (target <= 10%%), loss sums + latent "
              "gathers %.1f%%" % (size, a.threads, res["single_step_seconds"], a.ranks, per_rank,
                                  res["multi_step_seconds"], res["throughput_ratio"], res["throughput_ratio_paired"],
                                  100 * res["allreduce_share"], 100 * res["other_exchanges_share"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
