#!/usr/bin/env bash
# Speed of `tvlt bench` as ratios against a PyTorch baseline, in one run.
#
# Builds cmd/tvlt twice (pure-Go BLAS, and -tags openblas), writes each
# preset's config.json with the Go side (go run ./testdata/bench/presetjson),
# then for every row times the same step with
#   Go            tvlt bench (the default build: graph/gemm's pure-Go SGEMM)
#   Go+OpenBLAS   tvlt bench built with -tags openblas
#   PyTorch       testdata/bench/torch_bench.py (gen_golden.py's model),
#                 once with torch.set_num_threads(2) and once with 1
# and prints a Markdown table of ms/step (median and min) and the ratio
# Go/PyTorch, where PyTorch is the faster of its two runs on that row.
#
# Usage (from anywhere; needs Go, libopenblas-dev, Debian's python3-torch):
#   testdata/bench/compare.sh                 # default rows, ~5-8 min on 2 cores
#   BENCH_QUICK=1 testdata/bench/compare.sh   # tiny and small only, ~1 min
#   BENCH_ROWS="small pretrain 32 10 2" testdata/bench/compare.sh
#   BENCH_GEMM=0 testdata/bench/compare.sh   # skip the GEMM table (~80 s)
# BENCH_ROWS: rows separated by ';' or newlines, each
#   "preset task batch steps warmup".
# PYTHON: the interpreter with torch (default /usr/bin/python3).
#
# Threads: the machine has 2 cores. Every runner gets OMP_NUM_THREADS=1
# OPENBLAS_NUM_THREADS=2: Debian's torch 1.13 calls OpenBLAS through
# libblas.so.3 and torch.set_num_threads does not control OpenBLAS's threads
# (measured on this project's 2-core machines). With that environment
# torch.set_num_threads(2) adds 2 OpenMP threads for torch's own kernels on
# top of 2 OpenBLAS threads; on a loaded 2-core machine the spinning threads
# contend and it ran 2-13x slower than set_num_threads(1) at these shapes,
# so both are measured and the faster one is the baseline. Go runs with
# GOMAXPROCS=2 (its default here).
set -euo pipefail

cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2
PY=${PYTHON:-/usr/bin/python3}

DEFAULT_ROWS="tiny pretrain 8 20 3
tiny finetune 8 20 3
tiny infer 8 20 3
small pretrain 8 20 3
small finetune 8 20 3
small infer 8 20 3
base-reduced infer 1 10 2
base-reduced pretrain 1 3 1"
QUICK_ROWS="$(printf '%s\n' "$DEFAULT_ROWS" | grep -v '^base')"
if [[ -n "${BENCH_ROWS:-}" ]]; then
	ROWS="$(printf '%s\n' "$BENCH_ROWS" | tr ';' '\n')"
elif [[ -n "${BENCH_QUICK:-}" ]]; then
	ROWS="$QUICK_ROWS"
else
	ROWS="$DEFAULT_ROWS"
fi

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
	echo "compare.sh: $PY cannot import torch and numpy (apt-get install -y python3-torch python3-numpy)" >&2
	exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

log() { printf '%s\n' "$*" >&2; }

log "building tvlt (pure-Go GEMM) and tvlt -tags openblas ..."
go build -o "$tmp/tvlt" ./cmd/tvlt
go build -tags openblas -o "$tmp/tvlt-openblas" ./cmd/tvlt
go build -o "$tmp/presetjson" ./testdata/bench/presetjson

# field FILE KEY: one key of the JSON object on FILE's last line.
field() {
	"$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

# run NAME CMD...: runs a benchmark, keeps its stdout in $tmp/NAME.out.
run() {
	local name=$1
	shift
	if ! "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		log "compare.sh: $name failed:"
		tail -5 "$tmp/$name.err" >&2
		exit 1
	fi
	log "  $name: $(tail -1 "$tmp/$name.out")"
}

start_uptime="$(uptime)"
start=$(date +%s)
table=""
i=0
while read -r preset task batch steps warmup; do
	[[ -z "$preset" ]] && continue
	i=$((i + 1))
	cfg="$tmp/$preset.json"
	[[ -f "$cfg" ]] || "$tmp/presetjson" "$preset" >"$cfg"
	args=(--task "$task" --batch-size "$batch" --steps "$steps" --warmup "$warmup")
	log "[$i] $preset $task batch $batch, $steps steps after $warmup warm-up"
	run "go$i" "$tmp/tvlt" bench --preset "$preset" "${args[@]}"
	run "goblas$i" "$tmp/tvlt-openblas" bench --preset "$preset" "${args[@]}"
	run "torch2_$i" "$PY" testdata/bench/torch_bench.py --config "$cfg" --preset "$preset" --threads 2 "${args[@]}"
	run "torch1_$i" "$PY" testdata/bench/torch_bench.py --config "$cfg" --preset "$preset" --threads 1 "${args[@]}"
	table+="$("$PY" - "$tmp" "$i" <<'EOF'
import json, sys
tmp, i = sys.argv[1], sys.argv[2]
r = {}
for name in ("go", "goblas", "torch2_", "torch1_"):
    with open("%s/%s%s.out" % (tmp, name, i)) as f:
        r[name] = json.loads(f.read().strip().splitlines()[-1])
med = {k: v["ms_per_step_median"] for k, v in r.items()}
mn = {k: v["ms_per_step_min"] for k, v in r.items()}
# The baseline is the faster PyTorch run (by median); minima are compared
# with the smaller PyTorch minimum, which other users' load disturbs less.
base = min(med["torch2_"], med["torch1_"])
base_min = min(mn["torch2_"], mn["torch1_"])
g = r["go"]
params = str(g["params"])
if r["torch1_"]["params"] != g["params"]:
    params += " (PyTorch %d!)" % r["torch1_"]["params"]
cell = lambda k: "%.1f / %.1f" % (med[k], mn[k])
ratio = lambda k: "**%.1f** (%.1f)" % (med[k] / base, mn[k] / base_min)
# RSS is compared with the PyTorch run that is the time baseline.
rss_torch = r["torch1_" if med["torch1_"] <= med["torch2_"] else "torch2_"]["peak_rss_mb"]
print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %.0f / %.0f | %.0f / %.0f / %.0f (**%.2f**) |" % (
    g["preset"], g["task"], g["batch_size"], params, cell("go"), cell("goblas"), cell("torch2_"), cell("torch1_"),
    ratio("go"), ratio("goblas"), g.get("gflops_per_s", 0), r["goblas"].get("gflops_per_s", 0),
    g["peak_rss_mb"], r["goblas"]["peak_rss_mb"], rss_torch, g["peak_rss_mb"] / rss_torch))
EOF
)"$'\n'
done <<<"$ROWS"
end=$(date +%s)

torch_version="$("$PY" -c 'import torch; print(torch.__version__)')"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "Machine: $(nproc --all) cores ($cpu), $(go version | cut -d' ' -f3), torch $torch_version; Go GEMM $(field "$tmp/go1.out" blas);" \
	"OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+local changes')."
echo "Load before: ${start_uptime#*load average: }; after: $(uptime | sed 's/.*load average: //') (1/5/15-min load averages; other users share the 2 cores). Total $((end - start)) s."
echo
echo "ms per step, median / min over the timed steps (forward+backward+AdamW; infer: forward only)."
echo "Ratio = Go median / the faster PyTorch median (in brackets: Go min / the smaller PyTorch min); lower is better."
echo
echo "GFLOP/s: the step's matrix-product FLOPs over its median time. RSS ratio (bold) = Go / PyTorch (its baseline run)."
echo
echo "| preset | task | batch | params | Go ms | Go+OpenBLAS ms | PyTorch 2 thr ms | PyTorch 1 thr ms | Go / PyTorch | Go+OpenBLAS / PyTorch | GFLOP/s Go / Go+OpenBLAS | peak RSS MB Go / Go+OpenBLAS / PyTorch |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s' "$table"

# The GEMM shapes of a base-reduced pretraining step: graph/gemm against
# OpenBLAS, best call of interleaved bursts, 1 and 2 threads.
if [[ "${BENCH_GEMM:-1}" != 0 ]]; then
	log "GEMM shapes: graph/gemm vs OpenBLAS ..."
	echo
	echo "GEMM of the base-reduced step's shapes (M×K×N of the forward product; dX, dW: backward), GFLOP/s, best call; ratio = graph/gemm / OpenBLAS:"
	echo
	OPENBLAS_NUM_THREADS=2 TVLT_GEMM_COMPARE=1 go test -tags openblas -count=1 -run 'CompareOpenBLAS$' -v ./graph/gemm 2>/dev/null | grep -E '^(\||kernel|worst)'
fi
