#!/bin/sh
# run_fuzz.sh HARNESS SEED_DIR REGRESSION_DIR SECONDS ARTIFACT_DIR
#
# One bounded libFuzzer run as a meson test. Every saved crash reproducer in
# REGRESSION_DIR is replayed first (a fixed bug must stay fixed), then the
# seed corpus is copied to a scratch directory so that the inputs libFuzzer
# adds do not land in the source tree, and the harness fuzzes it for SECONDS.
# New crashes are written under ARTIFACT_DIR (in the build directory).
#
# libFuzzer exits 77 on a crash by default, which meson reads as "skipped":
# every run here asks for exit status 1 instead, so a crash fails the test.
set -eu
harness=$1 seeds=$2 regressions=$3 seconds=$4 artifacts=$5

mkdir -p "$artifacts"
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
	echo "replaying $(ls "$regressions" | wc -l) regression input(s) from $regressions"
	"$harness" -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$artifacts/" \
		"$regressions"/*
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/seckill-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
if [ -d "$seeds" ]; then
	cp -R "$seeds"/. "$work"/
fi
"$harness" -error_exitcode=1 -timeout_exitcode=1 -max_total_time="$seconds" \
	-artifact_prefix="$artifacts/" \
	-print_final_stats=1 "$work"
