#!/usr/bin/env sh
# Validate GPT-4 and GPT-3.5 as judges against LLMFAO's crowd votes (dustalov/llmfao, CC-BY-4.0), each alone
# and then both as a two-judge panel.
# Usage: examples/llmfao_validation/run.sh [DATA_DIR] [extra judge validate flags, e.g. --json]
set -eu
DATA="${1:-../shared/data}/llmfao"
[ $# -gt 0 ] && shift
for JUDGE in gpt4 gpt3; do
    echo "## $JUDGE-crowd-comparisons.csv as judge"
    judge validate --human "$DATA/crowd-comparisons.csv" --judge "$DATA/$JUDGE-crowd-comparisons.csv" "$@"
done
echo "## gpt4 and gpt3 as a two-judge panel"
judge validate --human "$DATA/crowd-comparisons.csv" \
    --judge "$DATA/gpt4-crowd-comparisons.csv" --judge "$DATA/gpt3-crowd-comparisons.csv" "$@"
