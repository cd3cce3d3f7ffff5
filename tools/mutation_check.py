#!/usr/bin/python3
"""Mutation check of the layer backward passes: flips the sign of one term of one backward at a
time (in a temporary copy of the repository) and confirms that the layer tests then FAIL.
Slow (one rebuild per mutation, a few minutes): run by hand from the repo root,
    tools/mutation_check.py            # all mutations
    tools/mutation_check.py lstm       # only those whose file name contains "lstm"
Exit status 1 if any mutation survives (the tests still pass)."""
import os
import shutil
import subprocess
import sys
import tempfile

# (file under src/layers, exact text, replacement, test binary that must fail)
M = [
    ("linear.c", "matmul(0, 0, N, IC, OC, 1.0f,", "matmul(0, 0, N, IC, OC, -1.0f,", "test_layers"),
    ("linear.c", "matmul(1, 0, OC, IC, N, 1.0f,", "matmul(1, 0, OC, IC, N, -1.0f,", "test_layers"),
    ("linear.c", "db[c] += acc[c - c0]", "db[c] -= acc[c - c0]", "test_layers"),
    ("layernorm.c", "d[i] * w[i] - gmean - xh", "d[i] * w[i] + gmean - xh", "test_layers"),
    ("layernorm.c", "- xh * gxmean", "+ xh * gxmean", "test_layers"),
    ("layernorm.c", "dx[i] += s * (d[i] * w[i]", "dx[i] += s * (-d[i] * w[i]", "test_layers"),
    ("layernorm.c", "aw[i - c0] += d[i]", "aw[i - c0] -= d[i]", "test_layers"),
    ("layernorm.c", "ab[i - c0] += d[i]", "ab[i - c0] -= d[i]", "test_layers"),
    ("standardize.c", "dout[j] - g - out[j] * gy", "dout[j] + g - out[j] * gy", "test_layers"),
    ("standardize.c", "dout[j] - g - out[j] * gy", "dout[j] - g + out[j] * gy", "test_layers"),
    ("activations.c", "(vgelu_cdf(x) + x * vgelu_pdf(x))", "(vgelu_cdf(x) - x * vgelu_pdf(x))", "test_layers"),
    ("activations.c", "dinp[i] += out[i] > 0.0f ? dout[i]", "dinp[i] -= out[i] > 0.0f ? dout[i]", "test_layers"),
    ("activations.c", "(1.0f - out[i] * out[i])", "(1.0f + out[i] * out[i])", "test_layers"),
    ("activations.c", "out[i] * (1.0f - out[i])", "out[i] * (1.0f + out[i])", "test_layers"),
    ("softmax.c", "p[i] * (d[i] - dot)", "p[i] * (d[i] + dot)", "test_layers"),
    ("sparsemax.c", "dx[i] += d[i] - m", "dx[i] += d[i] + m", "test_layers"),
    ("sparsemax.c", "dx[i] += d[i] - m", "dx[i] += -d[i] - m", "test_layers"),
    ("dropout.c", "dinp[i] += dout[i] * mask[i]", "dinp[i] -= dout[i] * mask[i]", "test_layers"),
    ("dropout.c", "1.0f / (1.0f - p)", "1.0f / (1.0f + p)", "test_layers"),
    ("embedding.c", "dt[c] += d[c]", "dt[c] -= d[c]", "test_layers"),
    ("loss.c", "k * (pred[i] - target[i])", "k * (pred[i] + target[i])", "test_layers"),
    ("loss.c", "d[targets[n]] -= k", "d[targets[n]] += k", "test_layers"),
    ("loss.c", "d[i] += k * p[i]", "d[i] -= k * p[i]", "test_layers"),
    ("attention.c", "d[j] = p[j] * (d[j] - dot)", "d[j] = p[j] * (d[j] + dot)", "test_attention"),
    ("attention.c", "d[j] *= m[j]", "d[j] *= -m[j]", "test_attention"),
    ("attention.c", "matmul(1, 0, T, hs, T, 1.0f, A,", "matmul(1, 0, T, hs, T, -1.0f, A,", "test_attention"),
    ("attention.c", "if (dq) matmul(0, 0, T, hs, T, scale,", "if (dq) matmul(0, 0, T, hs, T, -scale,", "test_attention"),
    ("attention.c", "if (dk) matmul(1, 0, T, hs, T, scale,", "if (dk) matmul(1, 0, T, hs, T, -scale,", "test_attention"),
    ("lstm.c", "dg[j] = dc * gg", "dg[j] = -dc * gg", "test_lstm"),
    ("lstm.c", "dg[H + j] = dc * cp", "dg[H + j] = -dc * cp", "test_lstm"),
    ("lstm.c", "dg[2 * H + j] = dc * ig", "dg[2 * H + j] = -dc * ig", "test_lstm"),
    ("lstm.c", "dg[3 * H + j] = dhh * tc", "dg[3 * H + j] = -dhh * tc", "test_lstm"),
    ("lstm.c", "dcb[j] = dc * fg", "dcb[j] = -dc * fg", "test_lstm"),
    ("lstm.c", "float dc = dcb[j] + dhh", "float dc = dcb[j] - dhh", "test_lstm"),
    ("lstm.c", "float dc = dcb[j] + dhh", "float dc = -dcb[j] + dhh", "test_lstm"),
    ("lstm.c", "float dhh = dht[j] + dhb[j]", "float dhh = dht[j] - dhb[j]", "test_lstm"),
    ("lstm.c", "float dhh = dht[j] + dhb[j]", "float dhh = -dht[j] + dhb[j]", "test_lstm"),
    ("lstm.c", "og * (1.0f - tc * tc)", "og * (1.0f + tc * tc)", "test_lstm"),
    ("lstm.c", "ig * (1.0f - gg * gg)", "ig * (1.0f + gg * gg)", "test_lstm"),
    ("lstm.c", "if (t) matmul(0, 0, B, H, G, 1.0f,", "if (t) matmul(0, 0, B, H, G, -1.0f,", "test_lstm"),
    ("lstm.c", "if (t) matmul(0, 0, B, H, G, 1.0f, dG + (long)t * G, T * G, W,",
     "if (t) matmul(0, 0, B, H, G, -1.0f, dG + (long)t * G, T * G, W,", "test_lstm"),
    ("lstm.c", "W[i] = Wih[i] + Whh[i]", "W[i] = Wih[i] - Whh[i]", "test_lstm"),
    ("lstm.c", "else if (dz) matmul(0, 0, B, H, G, 1.0f,", "else if (dz) matmul(0, 0, B, H, G, -1.0f,", "test_lstm"),
    ("lstm.c", "matmul(1, 0, G, H, B * T - 1, 1.0f,", "matmul(1, 0, G, H, B * T - 1, -1.0f,", "test_lstm"),
    ("lstm.c", "matmul(1, 0, G, H, B - 1, -1.0f,", "matmul(1, 0, G, H, B - 1, 1.0f,", "test_lstm"),
    ("lstm.c", "dWih[i] += W[i]", "dWih[i] -= W[i]", "test_lstm"),
    ("lstm.c", "dWhh[i] += W[i]", "dWhh[i] -= W[i]", "test_lstm"),
    ("lstm.c", "matmul(1, 0, G, H, B, 1.0f, dG, T * G, z,", "matmul(1, 0, G, H, B, -1.0f, dG, T * G, z,", "test_lstm"),
    ("lstm.c", "if (dx) matmul(0, 0, (int)BT, D, G, 1.0f,", "if (dx) matmul(0, 0, (int)BT, D, G, -1.0f,", "test_lstm"),
    ("lstm.c", "if (dWih) matmul(1, 0, G, D, (int)BT, 1.0f,", "if (dWih) matmul(1, 0, G, D, (int)BT, -1.0f,", "test_lstm"),
    ("lstm.c", "if (dbih) dbih[j] += acc", "if (dbih) dbih[j] -= acc", "test_lstm"),
    ("lstm.c", "if (dbhh) dbhh[j] += acc", "if (dbhh) dbhh[j] -= acc", "test_lstm"),
    ("activations.c", "(vgelu_cdf(x) + x * vgelu_pdf(x))", "(-vgelu_cdf(x) + x * vgelu_pdf(x))", "test_layers"),
    ("layernorm.c", "gxmean += g * (x[i] - m) * s", "gxmean -= g * (x[i] - m) * s", "test_layers"),
    ("lstm.c", "ig * (1.0f - ig)", "ig * (1.0f + ig)", "test_lstm"),
    ("lstm.c", "fg * (1.0f - fg)", "fg * (1.0f + fg)", "test_lstm"),
    ("lstm.c", "og * (1.0f - og)", "og * (1.0f + og)", "test_lstm"),
]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="mird-mutation-")
    try:
        for d in ("src", "tests", "scripts"):
            shutil.copytree(os.path.join(root, d), os.path.join(tmp, d))
        shutil.copy(os.path.join(root, "Makefile"), tmp)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        survivors = []
        for f, old, new, test in M:
            if only not in f:
                continue
            path = os.path.join(tmp, "src", "layers", f)
            src = open(path).read()
            n = src.count(old)
            if n < 1:
                print(f"BAD MUTATION (text not found) {f}: {old!r}")
                survivors.append((f, old))
                continue
            i = src.index(old)  # the first occurrence
            open(path, "w").write(src[:i] + new + src[i + len(old):])
            try:
                b = subprocess.run(["make", "-s", "-C", tmp, f"build/tests/{test}"], capture_output=True, text=True)
                if b.returncode != 0:
                    print(f"build failed for {f}: {old!r}\n{b.stderr[-2000:]}")
                    survivors.append((f, old))
                    continue
                r = subprocess.run([os.path.join(tmp, "build", "tests", test)], cwd=tmp, env=env,
                                   capture_output=True, text=True, timeout=300)
                status = "caught" if r.returncode != 0 else "SURVIVED"
                print(f"{status:8s} {f}: {old!r} -> {new!r}")
                if r.returncode == 0:
                    survivors.append((f, old))
            finally:
                open(path, "w").write(src)
        print(f"{len(survivors)} mutation(s) survived")
        return 1 if survivors else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
